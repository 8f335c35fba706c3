package mdm_test

import (
	"fmt"

	"github.com/openomm/omm/enroll/mdm"
)

func ExampleParseCheckIn() {
	body := []byte(`<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
	<key>MessageType</key><string>Authenticate</string>
	<key>UDID</key><string>0000-1111</string>
	<key>Topic</key><string>com.apple.mgmt.External.example</string>
	<key>SerialNumber</key><string>F5JM992LF193</string>
	<key>IMEI</key><string>35 209900 176148 1</string>
</dict></plist>`)
	m, err := mdm.ParseCheckIn(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	switch m := m.(type) {
	case *mdm.Authenticate:
		// The IMEI was dropped while decoding: there is no field for it.
		fmt.Println(m.Type(), m.From().Device(), m.SerialNumber)
	}
	// Output: Authenticate 0000-1111 F5JM992LF193
}
