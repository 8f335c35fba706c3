package inventory

import (
	"slices"
	"strings"
)

// Key names an attribute of the privacy contract. Keys are stable: they are
// stored, and they are the field names of the user-facing report.
type Key string

// The attributes an organization may see. Nothing else is ever stored.
const (
	KeyDeviceName        Key = "device_name"
	KeyPhoneNumber       Key = "phone_number"
	KeySerialNumber      Key = "serial_number"
	KeyModelName         Key = "model_name"
	KeyModelNumber       Key = "model_number"
	KeyProductName       Key = "product_name"
	KeyManufacturer      Key = "manufacturer"
	KeyCapacity          Key = "capacity_gb"
	KeyAvailableCapacity Key = "available_capacity_gb"
	KeyOSVersion         Key = "os_version"
	KeyOSBuild           Key = "os_build"
	KeySecurityPatch     Key = "security_patch_level"
	KeyEncryption        Key = "encryption"
	KeyPasscodePresent   Key = "passcode_present"
	KeyPasscodeCompliant Key = "passcode_compliant"
	KeySecurityPosture   Key = "security_posture"
	KeyManagedProfiles   Key = "managed_profiles"
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
	PromiseSecurity     Promise = "Whether the device is encrypted and has a passcode that meets policy (never the passcode itself)"
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
	// Apple is the response key and AppleCommand the command that reports
	// it (a DeviceInformation query key, a SecurityInfo key …); empty when
	// Apple devices do not report it.
	Apple        string
	AppleCommand AppleCommand
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
}

// Category is something the organization can never see, with the device
// keys known to reveal it. Those keys are never requested and, if a device
// sends them anyway, dropped and counted as forbidden.
type Category struct {
	Key   string
	Label string
	// Apple and Android list reported keys (Apple response keys, Android
	// report field paths) that belong to the category.
	Apple   []string
	Android []string
}

// Contract returns the privacy contract's attributes: the single source of
// truth for what is requested, stored, granted and shown. Each call returns
// a fresh copy.
func Contract() []Attribute {
	return []Attribute{
		{Key: KeyDeviceName, Label: "Device name", Promise: PromiseDeviceName, Source: SourceDevice, Kind: KindText,
			Apple: "DeviceName", AppleCommand: AppleDeviceInformation, OTA: "DEVICE_NAME", Right: RightDeviceInformation},
		{Key: KeyPhoneNumber, Label: "Phone number", Promise: PromisePhoneNumber, Source: SourceDirectory, Kind: KindText},
		{Key: KeySerialNumber, Label: "Serial number", Promise: PromiseSerialNumber, Source: SourceDevice, Kind: KindText,
			Apple: "SerialNumber", AppleCommand: AppleDeviceInformation, OTA: "SERIAL", Android: "hardwareInfo.serialNumber", Right: RightDeviceInformation},
		{Key: KeyModelName, Label: "Model name", Promise: PromiseModel, Source: SourceDevice, Kind: KindText,
			Apple: "ModelName", AppleCommand: AppleDeviceInformation, Android: "hardwareInfo.model", Right: RightDeviceInformation},
		{Key: KeyModelNumber, Label: "Model number", Promise: PromiseModel, Source: SourceDevice, Kind: KindText,
			Apple: "ModelNumber", AppleCommand: AppleDeviceInformation, Right: RightDeviceInformation},
		{Key: KeyProductName, Label: "Product identifier", Promise: PromiseModel, Source: SourceDevice, Kind: KindText,
			Apple: "ProductName", AppleCommand: AppleDeviceInformation, OTA: "PRODUCT", Right: RightDeviceInformation},
		{Key: KeyManufacturer, Label: "Manufacturer", Promise: PromiseModel, Source: SourceDevice, Kind: KindText,
			Android: "hardwareInfo.manufacturer"},
		{Key: KeyCapacity, Label: "Storage capacity (GB)", Promise: PromiseStorage, Source: SourceDevice, Kind: KindNumber,
			Apple: "DeviceCapacity", AppleCommand: AppleDeviceInformation, Right: RightDeviceInformation,
			Android: "memoryInfo.totalInternalStorage", AndroidScale: 1e-9}, // bytes → GB, as Apple reports
		{Key: KeyAvailableCapacity, Label: "Storage available (GB)", Promise: PromiseStorage, Source: SourceDevice, Kind: KindNumber,
			Apple: "AvailableDeviceCapacity", AppleCommand: AppleDeviceInformation, Right: RightDeviceInformation},
		{Key: KeyOSVersion, Label: "OS version", Promise: PromiseOSVersion, Source: SourceDevice, Kind: KindText,
			Apple: "OSVersion", AppleCommand: AppleDeviceInformation, Android: "softwareInfo.androidVersion", Right: RightDeviceInformation},
		{Key: KeyOSBuild, Label: "OS build", Promise: PromiseOSVersion, Source: SourceDevice, Kind: KindText,
			Apple: "BuildVersion", AppleCommand: AppleDeviceInformation, OTA: "VERSION", Android: "softwareInfo.androidBuildNumber", Right: RightDeviceInformation},
		{Key: KeySecurityPatch, Label: "Security patch level", Promise: PromiseOSVersion, Source: SourceDevice, Kind: KindText,
			Android: "softwareInfo.securityPatchLevel"},
		{Key: KeyEncryption, Label: "Encryption", Promise: PromiseSecurity, Source: SourceDevice, Kind: KindText,
			Apple: "HardwareEncryptionCaps", AppleCommand: AppleSecurityInfo, Android: "deviceSettings.encryptionStatus", Right: RightSecurityQueries},
		{Key: KeyPasscodePresent, Label: "Passcode set", Promise: PromiseSecurity, Source: SourceDevice, Kind: KindBool,
			Apple: "PasscodePresent", AppleCommand: AppleSecurityInfo, Android: "deviceSettings.isDeviceSecure", Right: RightSecurityQueries},
		{Key: KeyPasscodeCompliant, Label: "Passcode meets policy", Promise: PromiseSecurity, Source: SourceDevice, Kind: KindBool,
			Apple: "PasscodeCompliant", AppleCommand: AppleSecurityInfo, Right: RightSecurityQueries},
		{Key: KeySecurityPosture, Label: "Security posture", Promise: PromiseSecurity, Source: SourceDevice, Kind: KindText,
			Android: "securityPosture.devicePosture"},
		{Key: KeyManagedProfiles, Label: "Profiles installed by your organization", Promise: PromiseProfiles, Source: SourceDevice, Kind: KindList,
			Apple: "ProfileList", AppleCommand: AppleProfileList, Right: RightInspectProfiles},
		{Key: KeyApps, Label: "Installed apps", Promise: PromiseApps, Source: SourceDevice, Kind: KindApps,
			Apple: "InstalledApplicationList", AppleCommand: AppleInstalledApplicationList, Android: "applicationReports", Right: RightAppInventory},
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
			Apple:   []string{"BundleSize", "DynamicSize", "LastCloudBackupDate", "BatteryLevel", "IsDoNotDisturbInEffect"},
			Android: []string{"applicationReports.events", "memoryEvents", "powerManagementEvents", "hardwareStatusSamples", "lastStatusReportTime", "lastPolicySyncTime"}},
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
	}
}

// lookup is the contract indexed for the filter; built once per Service
// (or test) from Contract, never written by hand.
type lookup struct {
	byKey       map[Key]Attribute
	apple       map[AppleCommand]map[string]Attribute // response key → attribute
	android     map[string]Attribute                  // dotted path → attribute
	sections    map[string]bool                       // top-level objects holding Android attributes
	forbidApple map[string]bool
	forbidDroid map[string]bool
}

func newLookup() *lookup {
	l := &lookup{
		byKey:       map[Key]Attribute{},
		apple:       map[AppleCommand]map[string]Attribute{},
		android:     map[string]Attribute{},
		sections:    map[string]bool{},
		forbidApple: map[string]bool{},
		forbidDroid: map[string]bool{},
	}
	for _, a := range Contract() {
		l.byKey[a.Key] = a
		if a.Apple != "" {
			if l.apple[a.AppleCommand] == nil {
				l.apple[a.AppleCommand] = map[string]Attribute{}
			}
			l.apple[a.AppleCommand][a.Apple] = a
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
	}
	return l
}

// AttributeFor returns the contract row for key.
func AttributeFor(key Key) (Attribute, bool) {
	c := Contract()
	i := slices.IndexFunc(c, func(a Attribute) bool { return a.Key == key })
	if i < 0 {
		return Attribute{}, false
	}
	return c[i], true
}

// DeviceInformationQueries returns the Queries list of the Apple
// DeviceInformation command: exactly the contract's DeviceInformation keys,
// in contract order. Network identifiers are never in it.
func DeviceInformationQueries() []string {
	var q []string
	for _, a := range Contract() {
		if a.AppleCommand == AppleDeviceInformation {
			q = append(q, a.Apple)
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
// an Apple device, derived from the contract: every command that reports a
// contract attribute, plus ManagedApplicationList, which says which of the
// installed apps are the organization's. Queue them in this order.
func AppleRefresh() []AppleQuery {
	var q []AppleQuery
	for _, a := range Contract() {
		if a.AppleCommand == "" || slices.ContainsFunc(q, func(x AppleQuery) bool { return x.RequestType == a.AppleCommand }) {
			continue
		}
		aq := AppleQuery{RequestType: a.AppleCommand}
		switch a.AppleCommand {
		case AppleDeviceInformation:
			aq.Queries = DeviceInformationQueries()
		case AppleProfileList:
			aq.ManagedOnly = true
		}
		if a.AppleCommand == AppleInstalledApplicationList {
			// First, so that the installed list finds the managed apps
			// marked and keeps their versions.
			q = append(q, AppleQuery{RequestType: AppleManagedApplicationList})
		}
		q = append(q, aq)
	}
	return q
}
