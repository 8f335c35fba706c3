package profile

import (
	"errors"
	"strings"
	"testing"
)

func TestDecodeLimitsAndErrors(t *testing.T) {
	good, err := enrollmentProfile().Encode()
	if err != nil {
		t.Fatal(err)
	}
	deep := "<plist>" + strings.Repeat("<array>", 10000) + strings.Repeat("</array>", 10000) + "</plist>"
	for _, tc := range []struct {
		name string
		in   string
		opts []DecodeOption
		want error
	}{
		{"valid", string(good), nil, nil},
		{"too large", string(good), []DecodeOption{WithMaxSize(100)}, ErrDecode},
		{"too deep", deep, nil, ErrDecode},
		{"custom depth", string(good), []DecodeOption{WithMaxDepth(3)}, ErrDecode},
		{"too many values", string(good), []DecodeOption{WithMaxValues(10)}, ErrDecode},
		{"not xml", "hello", nil, ErrDecode},
		{"wrong key type", `<plist><dict><key>PayloadType</key><string>Configuration</string><key>PayloadContent</key><string>x</string></dict></plist>`, nil, ErrDecode},
		{"payload key of wrong type", `<plist><dict><key>PayloadType</key><string>Configuration</string><key>PayloadContent</key><array><dict>` +
			`<key>PayloadType</key><string>com.apple.mdm</string><key>AccessRights</key><string>all</string></dict></array></dict></plist>`, nil, ErrDecode},
		{"not a configuration", `<plist><dict><key>PayloadType</key><string>Profile Service</string></dict></plist>`, nil, ErrNotConfiguration},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.in), tc.opts...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDecodeUnknownPayload(t *testing.T) {
	in := `<plist><dict>
<key>PayloadType</key><string>Configuration</string>
<key>PayloadVersion</key><integer>1</integer>
<key>PayloadIdentifier</key><string>com.example.dock</string>
<key>PayloadUUID</key><string>2C8B3F47-8F36-4C0E-9D55-1D2C3B4A5F60</string>
<key>PayloadContent</key><array><dict>
<key>PayloadType</key><string>com.apple.dock</string>
<key>PayloadVersion</key><integer>1</integer>
<key>PayloadIdentifier</key><string>com.example.dock.1</string>
<key>PayloadUUID</key><string>5F7E6D5C-4B3A-4291-8807-F6E5D4C3B2A1</string>
<key>orientation</key><string>left</string>
</dict></array></dict></plist>`
	p, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	u, ok := p.Payloads[0].(*Unknown)
	if !ok {
		t.Fatalf("payload is %T", p.Payloads[0])
	}
	if u.Type != "com.apple.dock" || u.Keys["orientation"] != "left" || len(u.Keys) != 1 {
		t.Fatalf("unknown payload = %+v", u)
	}
	out, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	again, err := Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	assertSameProfile(t, p, again)
}
