package inventory

import (
	"slices"
	"strings"
	"sync"
)

// Key names an attribute of the privacy contract. Keys are stable: they are
// stored, and they are the field names of the user-facing report.
type Key string

// The attributes an organization may see. Nothing else is ever stored.
const (
	KeyDeviceName   Key = "device_name"
	KeyPhoneNumber  Key = "phone_number"
	KeySerialNumber Key = "serial_number"
	KeyModelName    Key = "model_name"
	KeyModelNumber  Key = "model_number"
	KeyProductName  Key = "product_name"
	KeyManufacturer Key = "manufacturer"
	// KeyCapacity and KeyAvailableCapacity are kept as the device reports
	// them: base-10 gigabytes, except on macOS 11 and earlier, which
	// report base-2 gibibytes ([DisplayValue] names the unit).
	KeyCapacity          Key = "capacity_gb"
	KeyAvailableCapacity Key = "available_capacity_gb"
	KeyOSVersion         Key = "os_version"
	KeyOSBuild           Key = "os_build"
	KeySecurityPatch     Key = "security_patch_level"
	// KeyEncryption is kept in the platform's own terms: Apple's hardware
	// encryption bit mask on iPhone and iPad ("3"), whether FileVault is on
	// on a Mac ("true"), Android's encryption status ("ACTIVE_PER_USER").
	// [DisplayValue] puts each into words.
	KeyEncryption        Key = "encryption"
	KeyPasscodePresent   Key = "passcode_present"
	KeyPasscodeCompliant Key = "passcode_compliant"
	KeySecurityPosture   Key = "security_posture"
	// KeyFirewall and KeySystemIntegrity are a Mac's application firewall
	// and System Integrity Protection, on or off.
	KeyFirewall        Key = "firewall"
	KeySystemIntegrity Key = "system_integrity_protection"
	// KeyManagedProfiles is a JSON list of the identifiers of the
	// profiles the organization installed.
	KeyManagedProfiles Key = "managed_profiles"
	// KeyApps is the app list, stored as apps rather than as a value.
	KeyApps Key = "installed_apps"
)

// Source says where a value comes from.
type Source string

const (
	// SourceDevice: reported by the device itself.
	SourceDevice Source = "device"
	// SourceDirectory: taken from the organization's user directory, never
	// from the device.
	SourceDirectory Source = "directory"
)

// Kind is the type a reported value must have to be kept; a value of
// another type is dropped as malformed.
type Kind int

const (
	KindText Kind = iota + 1
	KindNumber
	KindBool
	// KindList: a list of identifiers (kept as a JSON array of strings).
	KindList
	// KindApps: the app list, kept as [App] entries.
	KindApps
)

// Promise is one line of what the user is told the organization can see.
// Several attributes may serve one promise ("model name and number").
type Promise string

const (
	PromiseDeviceName   Promise = "Device name"
	PromisePhoneNumber  Promise = "Phone number, from your organization's directory (never read from the device)"
	PromiseSerialNumber Promise = "Serial number"
	PromiseModel        Promise = "Model name and number"
	PromiseStorage      Promise = "Storage capacity and space available"
	PromiseOSVersion    Promise = "Operating system version"
	PromiseSecurity     Promise = "Whether the device is encrypted and has a passcode that meets policy (never the passcode itself); on a Mac, whether its firewall and System Integrity Protection are on"
	PromiseProfiles     Promise = "Configuration profiles your organization installed"
	PromiseApps         Promise = "Names of installed apps; for personal apps the name only, nothing of their content, size or usage"
)

// AppleCommand names the Apple MDM command whose response carries an
// attribute.
type AppleCommand string

const (
	AppleDeviceInformation        AppleCommand = "DeviceInformation"
	AppleSecurityInfo             AppleCommand = "SecurityInfo"
	AppleInstalledApplicationList AppleCommand = "InstalledApplicationList"
	AppleManagedApplicationList   AppleCommand = "ManagedApplicationList"
	AppleProfileList              AppleCommand = "ProfileList"
)

// Attribute is one row of the privacy contract: a thing the organization may
// see, where it comes from, and how each platform reports it.
type Attribute struct {
	Key     Key
	Label   string
	Promise Promise
	Source  Source
	Kind    Kind
	// True and False are the words a KindBool value is shown with
	// ("On", "Off").
	True, False string
	// Apple lists the keys of Apple command results that report it, each
	// with the platforms and OS versions that report it there; empty when
	// Apple devices do not report it.
	Apple []AppleKey
	// OTA is the DeviceAttributes name requested in the OTA Profile Service
	// payload, empty when not requested there.
	OTA string
	// Android is the dotted path of the field in an Android status report
	// (the Android Management API Device resource), empty when Android does
	// not report it.
	Android string
	// AndroidScale, when not zero, multiplies a numeric Android value into
	// the unit of the attribute.
	AndroidScale float64
	// Right is the MDM access right Apple requires to report it.
	Right AccessRight
	// Status lists the declarative status items (Apple declarative device
	// management) that report it, each with the platforms and OS versions
	// that report it (from Apple's schema); empty when none does.
	Status []StatusKey
	// Hidden lists the enrollment types on which the organization may not
	// see the attribute at all: it is never asked for there, and dropped
	// if a device reports it anyway (see [Attribute.VisibleOn]).
	Hidden []EnrollmentType
}

// VisibleOn reports whether the organization may see the attribute on
// device d, given its ownership and enrollment type.
func (a Attribute) VisibleOn(d Device) bool {
	return !slices.Contains(a.Hidden, d.EnrollmentType)
}

// StatusKey is a declarative status item that reports an attribute, with
// the Apple platforms and first OS versions reporting it.
type StatusKey struct {
	// Item is the status item's name ("device.operating-system.version").
	Item string
	// Kind is the type the device reports when it is not the attribute's
	// own (FileVault's boolean for the encryption text); zero means the
	// attribute's Kind.
	Kind Kind
	// Platforms are the Apple platforms reporting it; empty means all.
	Platforms []Platform
	// Since is, per platform, the first OS version reporting it
	// ([PlatformIOS] stands for iPadOS too); a platform not named
	// reports it in every version that has declarative management.
	Since map[Platform]string
	// Enrollments are the enrollment types whose devices report it;
	// empty means all.
	Enrollments []EnrollmentType
}

// On reports whether a device running os reports the item. An unknown
// version counts as reporting it.
func (k StatusKey) On(os OS) bool {
	return AppleKey{Platforms: k.Platforms, Since: k.Since}.On(os)
}

// OnDevice reports whether device d, running os, reports the item: its
// OS does, and its enrollment type.
func (k StatusKey) OnDevice(d Device, os OS) bool {
	return k.On(os) && (len(k.Enrollments) == 0 || slices.Contains(k.Enrollments, d.EnrollmentType))
}

// AppleKey is one key of an Apple command result that reports an
// attribute, with the Apple platforms and OS versions that report it
// there (from Apple's schema).
type AppleKey struct {
	Command AppleCommand
	// Key is the response key. A dotted path names a key inside a
	// dictionary of the response ("FirewallSettings.FirewallEnabled").
	Key string
	// Kind is the type the device reports when it is not the attribute's
	// own: a Mac's FileVault boolean for the encryption text is stored as
	// "true" or "false". Zero means the attribute's Kind.
	Kind Kind
	// Platforms are the Apple platforms that report the attribute under
	// Key; empty means all of them.
	Platforms []Platform
	// Since is, per platform, the first OS version whose report the
	// inventory uses ([PlatformIOS] stands for iPadOS too); a platform not
	// named is served in every version.
	Since map[Platform]string
	// Fallback marks Apple's older name for the attribute: it is read only
	// from a result that lacks the attribute's other keys.
	Fallback bool
}

// On reports whether a device running os reports the attribute under k.
// An unknown version (or platform) counts as reporting it.
func (k AppleKey) On(os OS) bool {
	if os.Platform != "" && len(k.Platforms) > 0 && !slices.Contains(k.Platforms, os.Platform) {
		return false
	}
	since, ok := k.Since[appleFamily(os.Platform)]
	if !ok {
		return true
	}
	c, known := os.compare(since)
	return !known || c >= 0
}

// AppleOn returns the keys under which a device running os reports a, in
// the contract's order.
func (a Attribute) AppleOn(os OS) []AppleKey {
	var keys []AppleKey
	for _, k := range a.Apple {
		if k.On(os) {
			keys = append(keys, k)
		}
	}
	return keys
}

// Category is something the organization can never see, with the device
// keys known to reveal it. Those keys are never requested and, if a device
// sends them anyway, dropped and counted as forbidden.
type Category struct {
	Key   string
	Label string
	// Apple and Android list reported keys (Apple response keys, Android
	// report field paths) that belong to the category; Declarative lists
	// Apple's declarative status items that do.
	Apple       []string
	Android     []string
	Declarative []string
}

// Contract returns the privacy contract's attributes: the single source of
// truth for what is requested, stored, granted and shown. Each call returns
// a fresh copy.
func Contract() []Attribute {
	info := func(key string, more ...func(*AppleKey)) []AppleKey {
		k := AppleKey{Command: AppleDeviceInformation, Key: key}
		for _, m := range more {
			m(&k)
		}
		return []AppleKey{k}
	}
	security := func(key string, more ...func(*AppleKey)) []AppleKey {
		k := info(key, more...)
		k[0].Command = AppleSecurityInfo
		return k
	}
	mobile := func(k *AppleKey) { k.Platforms = []Platform{PlatformIOS, PlatformIPadOS} }
	mac := func(k *AppleKey) { k.Platforms = []Platform{PlatformMacOS} }
	since := func(versions map[Platform]string) func(*AppleKey) { return func(k *AppleKey) { k.Since = versions } }
	// status is a declarative status item, shaped like an AppleKey.
	status := func(item string, more ...func(*AppleKey)) []StatusKey {
		var k AppleKey
		for _, m := range more {
			m(&k)
		}
		return []StatusKey{{Item: item, Kind: k.Kind, Platforms: k.Platforms, Since: k.Since}}
	}
	boolean := func(k *AppleKey) { k.Kind = KindBool }
	// withEnrollments limits status items to the enrollment types whose
	// devices report them (a supervised Mac's FileVault state).
	withEnrollments := func(ks []StatusKey, e ...EnrollmentType) []StatusKey {
		for i := range ks {
			ks[i].Enrollments = e
		}
		return ks
	}
	return []Attribute{
		{Key: KeyDeviceName, Label: "Device name", Promise: PromiseDeviceName, Source: SourceDevice, Kind: KindText,
			Apple: info("DeviceName"), OTA: "DEVICE_NAME", Right: RightDeviceInformation},
		{Key: KeyPhoneNumber, Label: "Phone number", Promise: PromisePhoneNumber, Source: SourceDirectory, Kind: KindText},
		{Key: KeySerialNumber, Label: "Serial number", Promise: PromiseSerialNumber, Source: SourceDevice, Kind: KindText,
			Apple: info("SerialNumber"), OTA: "SERIAL", Android: "hardwareInfo.serialNumber", Right: RightDeviceInformation,
			Status: status("device.identifier.serial-number", since(map[Platform]string{PlatformIOS: "16.0", PlatformMacOS: "13.0"})),
			// User Enrollment keeps the device's identity from the
			// organization: the user's own device stays anonymous.
			Hidden: []EnrollmentType{EnrollAppleUser}},
		{Key: KeyModelName, Label: "Model name", Promise: PromiseModel, Source: SourceDevice, Kind: KindText,
			Apple: info("ModelName"), Android: "hardwareInfo.model", Right: RightDeviceInformation,
			Status: status("device.model.family")},
		// ModelNumber arrived in iOS 16.4 and macOS 13.3 (Apple silicon
		// only). Before, iPhone and iPad report the model number as
		// Model ("MD786X"); a Mac's Model is its model identifier
		// ("MacBookPro14,3", the product identifier below), so a Mac
		// before 13.3 has no model number to report.
		{Key: KeyModelNumber, Label: "Model number", Promise: PromiseModel, Source: SourceDevice, Kind: KindText,
			Apple: append(info("ModelNumber", since(map[Platform]string{PlatformIOS: "16.4", PlatformMacOS: "13.3"})),
				info("Model", mobile, func(k *AppleKey) { k.Fallback = true })...),
			Right:  RightDeviceInformation,
			Status: status("device.model.number", since(map[Platform]string{PlatformIOS: "17.0", PlatformMacOS: "14.0"}))},
		{Key: KeyProductName, Label: "Product identifier", Promise: PromiseModel, Source: SourceDevice, Kind: KindText,
			Apple: info("ProductName"), OTA: "PRODUCT", Right: RightDeviceInformation,
			Status: status("device.model.identifier")},
		{Key: KeyManufacturer, Label: "Manufacturer", Promise: PromiseModel, Source: SourceDevice, Kind: KindText,
			Android: "hardwareInfo.manufacturer"},
		{Key: KeyCapacity, Label: "Storage capacity", Promise: PromiseStorage, Source: SourceDevice, Kind: KindNumber,
			Apple: info("DeviceCapacity"), Right: RightDeviceInformation,
			Android: "memoryInfo.totalInternalStorage", AndroidScale: 1e-9}, // bytes → GB, as Apple reports
		{Key: KeyAvailableCapacity, Label: "Storage available", Promise: PromiseStorage, Source: SourceDevice, Kind: KindNumber,
			Apple: info("AvailableDeviceCapacity"), Right: RightDeviceInformation},
		{Key: KeyOSVersion, Label: "OS version", Promise: PromiseOSVersion, Source: SourceDevice, Kind: KindText,
			Apple: info("OSVersion"), Android: "softwareInfo.androidVersion", Right: RightDeviceInformation,
			Status: status("device.operating-system.version")},
		{Key: KeyOSBuild, Label: "OS build", Promise: PromiseOSVersion, Source: SourceDevice, Kind: KindText,
			Apple: info("BuildVersion"), OTA: "VERSION", Android: "softwareInfo.androidBuildNumber", Right: RightDeviceInformation,
			Status: status("device.operating-system.build-version")},
		{Key: KeySecurityPatch, Label: "Security patch level", Promise: PromiseOSVersion, Source: SourceDevice, Kind: KindText,
			Android: "softwareInfo.securityPatchLevel"},
		{Key: KeyEncryption, Label: "Encryption", Promise: PromiseSecurity, Source: SourceDevice, Kind: KindText,
			Apple: append(security("HardwareEncryptionCaps", mobile),
				security("FDE_Enabled", mac, func(k *AppleKey) { k.Kind = KindBool })...),
			Android: "deviceSettings.encryptionStatus", Right: RightSecurityQueries,
			Status: withEnrollments(status("diskmanagement.filevault.enabled", mac, boolean, since(map[Platform]string{PlatformMacOS: "14.0"})),
				EnrollAppleAutomated)},
		{Key: KeyPasscodePresent, Label: "Passcode is set", Promise: PromiseSecurity, Source: SourceDevice, Kind: KindBool,
			True: "Yes", False: "No",
			Apple: security("PasscodePresent", mobile), Android: "deviceSettings.isDeviceSecure", Right: RightSecurityQueries,
			Status: status("passcode.is-present", mobile, since(map[Platform]string{PlatformIOS: "16.0"}))},
		{Key: KeyPasscodeCompliant, Label: "Passcode meets policy", Promise: PromiseSecurity, Source: SourceDevice, Kind: KindBool,
			True: "Yes", False: "No",
			Apple: security("PasscodeCompliant", mobile), Right: RightSecurityQueries,
			Status: status("passcode.is-compliant", mobile, since(map[Platform]string{PlatformIOS: "16.0"}))},
		{Key: KeySecurityPosture, Label: "Security posture", Promise: PromiseSecurity, Source: SourceDevice, Kind: KindText,
			Android: "securityPosture.devicePosture"},
		{Key: KeyFirewall, Label: "Firewall", Promise: PromiseSecurity, Source: SourceDevice, Kind: KindBool, True: "On", False: "Off",
			Apple: security("FirewallSettings.FirewallEnabled", mac, since(map[Platform]string{PlatformMacOS: "10.12"})),
			Right: RightSecurityQueries},
		{Key: KeySystemIntegrity, Label: "System Integrity Protection", Promise: PromiseSecurity, Source: SourceDevice, Kind: KindBool,
			True: "On", False: "Off",
			Apple: security("SystemIntegrityProtectionEnabled", mac, since(map[Platform]string{PlatformMacOS: "10.12"})),
			Right: RightSecurityQueries},
		// Macs before 10.15 ignore ManagedOnly and never say which
		// profiles MDM installed, so their list cannot be used (see
		// appleProfiles).
		{Key: KeyManagedProfiles, Label: "Profiles installed by your organization", Promise: PromiseProfiles, Source: SourceDevice, Kind: KindList,
			Apple: []AppleKey{{Command: AppleProfileList, Key: "ProfileList", Since: map[Platform]string{PlatformMacOS: "10.15"}}},
			Right: RightInspectProfiles},
		{Key: KeyApps, Label: "Installed apps", Promise: PromiseApps, Source: SourceDevice, Kind: KindApps,
			Apple:   []AppleKey{{Command: AppleInstalledApplicationList, Key: "InstalledApplicationList"}},
			Android: "applicationReports", Right: RightAppInventory,
			// Declarative management reports the organization's
			// declarative apps only, never the user's.
			Status: status(DeclarativeAppList, mobile, since(map[Platform]string{PlatformIOS: "17.2"}))},
	}
}

// Forbidden returns the categories the organization can never see, each
// with the reported keys known to reveal it. Each call returns a fresh copy.
func Forbidden() []Category {
	return []Category{
		{Key: "personal_accounts", Label: "Personal mail, calendars and contacts",
			Apple:   []string{"iTunesStoreAccountHash", "iTunesStoreAccountIsActive", "EASDeviceIdentifier", "ActiveManagedUsers", "ResidentUsers", "AutoSetupAdminAccounts"},
			Android: []string{"user", "userName"}},
		{Key: "messages", Label: "Text messages (SMS, iMessage)"},
		{Key: "browser_history", Label: "Browser history"},
		{Key: "call_logs", Label: "Call logs and FaceTime history"},
		{Key: "notes", Label: "Personal reminders and notes"},
		{Key: "usage", Label: "How often anything is used",
			Apple:       []string{"BundleSize", "DynamicSize", "LastCloudBackupDate", "BatteryLevel", "IsDoNotDisturbInEffect"},
			Declarative: []string{"device.power.battery-health"},
			Android:     []string{"applicationReports.events", "memoryEvents", "powerManagementEvents", "hardwareStatusSamples", "lastStatusReportTime", "lastPolicySyncTime"}},
		{Key: "location", Label: "Device location",
			Apple: []string{"Latitude", "Longitude", "HorizontalAccuracy", "VerticalAccuracy", "Altitude", "Speed", "Course", "Timestamp",
				"TimeZone", "IsDeviceLocatorServiceEnabled", "IsMDMLostModeEnabled"},
			Android: []string{"location", "lastKnownLocation"}},
		{Key: "network_identifiers", Label: "Phone network identifiers: IMEI, SIM, carrier, roaming, Wi-Fi and Bluetooth addresses",
			Apple: []string{"IMEI", "MEID", "ICCID", "EID", "PhoneNumber", "BluetoothMAC", "WiFiMAC", "EthernetMAC",
				"CurrentCarrierNetwork", "SIMCarrierNetwork", "SubscriberCarrierNetwork", "CarrierSettingsVersion",
				"DataRoamingEnabled", "VoiceRoamingEnabled", "IsRoaming", "PersonalHotspotEnabled", "IsNetworkTethered",
				"SubscriberMCC", "SubscriberMNC", "CurrentMCC", "CurrentMNC", "SIMMCC", "SIMMNC", "ServiceSubscriptions",
				"ModemFirmwareVersion", "CellularTechnology", "HostName", "LocalHostName"},
			Android: []string{"networkInfo", "hardwareInfo.deviceBasebandVersion"}},
		{Key: "credentials", Label: "Passcodes, passwords and recovery keys",
			Apple: []string{"FDE_PersonalRecoveryKeyCMS", "FDE_PersonalRecoveryKeyDeviceKey"}},
	}
}

// lookup is the contract indexed for the filter; built once per Service
// (or test) from Contract, never written by hand.
type lookup struct {
	byKey map[Key]Attribute
	// apple maps a command and a response key (or dotted path) to the
	// attributes reported there.
	apple map[AppleCommand]map[string][]appleSource
	// appleSections are the dictionaries of a response holding attributes
	// under dotted paths ("FirewallSettings").
	appleSections map[AppleCommand]map[string]bool
	android       map[string]Attribute // dotted path → attribute
	sections      map[string]bool      // top-level objects holding Android attributes
	forbidApple   map[string]bool
	forbidDroid   map[string]bool
	// status maps a declarative status item to the attribute it reports.
	status       map[string]statusSource
	forbidStatus map[string]bool
	// osVersion is the DeviceInformation key of the OS version, which
	// decides how the rest of a result is read.
	osVersion string
}

// statusSource is the attribute a declarative status item reports.
type statusSource struct {
	attr Attribute
	key  StatusKey
}

// appleSource is one AppleKey of an attribute; rank orders the keys of
// one attribute (the contract's order).
type appleSource struct {
	attr Attribute
	key  AppleKey
	rank int
}

func newLookup() *lookup {
	l := &lookup{
		byKey:         map[Key]Attribute{},
		apple:         map[AppleCommand]map[string][]appleSource{},
		appleSections: map[AppleCommand]map[string]bool{},
		android:       map[string]Attribute{},
		sections:      map[string]bool{},
		forbidApple:   map[string]bool{},
		forbidDroid:   map[string]bool{},
		status:        map[string]statusSource{},
		forbidStatus:  map[string]bool{},
	}
	for _, a := range Contract() {
		l.byKey[a.Key] = a
		if a.Key == KeyOSVersion {
			l.osVersion = a.Apple[0].Key
		}
		for i, k := range a.Apple {
			if l.apple[k.Command] == nil {
				l.apple[k.Command] = map[string][]appleSource{}
				l.appleSections[k.Command] = map[string]bool{}
			}
			l.apple[k.Command][k.Key] = append(l.apple[k.Command][k.Key], appleSource{attr: a, key: k, rank: i})
			if section, _, ok := strings.Cut(k.Key, "."); ok {
				l.appleSections[k.Command][section] = true
			}
		}
		for _, k := range a.Status {
			l.status[k.Item] = statusSource{attr: a, key: k}
		}
		if a.Android != "" {
			l.android[a.Android] = a
			if section, _, ok := strings.Cut(a.Android, "."); ok {
				l.sections[section] = true
			}
		}
	}
	for _, c := range Forbidden() {
		for _, k := range c.Apple {
			l.forbidApple[k] = true
		}
		for _, k := range c.Android {
			l.forbidDroid[k] = true
		}
		for _, k := range c.Declarative {
			l.forbidStatus[k] = true
		}
	}
	return l
}

// AttributeFor returns the contract row for key.
func AttributeFor(key Key) (Attribute, bool) {
	a, ok := attributeFor(key)
	if !ok {
		return Attribute{}, false
	}
	// The caller's copy: the index's slices stay as built.
	a.Apple, a.Status, a.Hidden = slices.Clone(a.Apple), slices.Clone(a.Status), slices.Clone(a.Hidden)
	return a, true
}

// attributeFor returns the contract row for key from an index built once:
// the ingest asks for every value it stores, and [Contract] builds the
// whole table on each call. The row's slices are shared: read only.
func attributeFor(key Key) (Attribute, bool) {
	a, ok := contractIndex()[key]
	return a, ok
}

var contractIndex = sync.OnceValue(func() map[Key]Attribute {
	c := Contract()
	m := make(map[Key]Attribute, len(c))
	for _, a := range c {
		m[a.Key] = a
	}
	return m
})

// DeviceInformationQueries returns the Queries list of the Apple
// DeviceInformation command for a device of platform p: exactly the
// contract's DeviceInformation keys that platform reports in any version
// (a device ignores keys its version does not know), in contract order.
// An empty p asks for every Apple platform's keys. Network identifiers are
// never in it.
func DeviceInformationQueries(p Platform) []string {
	var q []string
	for _, a := range Contract() {
		for _, k := range a.Apple {
			if k.Command == AppleDeviceInformation && k.On(OS{Platform: p}) && !slices.Contains(q, k.Key) {
				q = append(q, k.Key)
			}
		}
	}
	return q
}

// OTADeviceAttributes returns the DeviceAttributes list of the OTA Profile
// Service payload: the contract's OTA names, plus UDID, which identifies
// the device being enrolled and is kept on the device record only.
func OTADeviceAttributes() []string {
	q := []string{"UDID"}
	for _, a := range Contract() {
		if a.OTA != "" {
			q = append(q, a.OTA)
		}
	}
	return q
}

// AppleQuery is one command of an Apple inventory refresh.
type AppleQuery struct {
	RequestType AppleCommand
	// Queries is the Queries list of DeviceInformation.
	Queries []string
	// ManagedOnly is set for ProfileList: only profiles this MDM installed.
	ManagedOnly bool
}

// AppleRefresh returns the commands to queue for a full inventory refresh of
// an Apple device of platform p (empty: any Apple platform), derived from
// the contract: every command that reports a contract attribute, plus
// ManagedApplicationList, which says which of the installed apps are the
// organization's. Queue them in this order: DeviceInformation first, so
// that the OS version the other results are read by is fresh.
func AppleRefresh(p Platform) []AppleQuery {
	var q []AppleQuery
	for _, a := range Contract() {
		for _, k := range a.Apple {
			if slices.ContainsFunc(q, func(x AppleQuery) bool { return x.RequestType == k.Command }) {
				continue
			}
			aq := AppleQuery{RequestType: k.Command}
			switch k.Command {
			case AppleDeviceInformation:
				aq.Queries = DeviceInformationQueries(p)
			case AppleProfileList:
				aq.ManagedOnly = true
			case AppleInstalledApplicationList:
				// First, so that the installed list finds the managed
				// apps marked and keeps their versions.
				q = append(q, AppleQuery{RequestType: AppleManagedApplicationList})
			}
			q = append(q, aq)
		}
	}
	return q
}
