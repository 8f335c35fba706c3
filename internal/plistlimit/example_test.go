package plistlimit_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/openomm/omm/internal/plistlimit"
)

func ExampleUnmarshal() {
	body := []byte(`<plist version="1.0"><dict>
		<key>MessageType</key><string>Authenticate</string>
		<key>UDID</key><string>0000-1111</string>
	</dict></plist>`)
	var msg struct {
		MessageType string
		UDID        string
	}
	err := plistlimit.Unmarshal(body, &msg, plistlimit.Limits{})
	fmt.Println(msg.MessageType, msg.UDID, err)

	deep := "<plist>" + strings.Repeat("<array>", 1000) + strings.Repeat("</array>", 1000) + "</plist>"
	err = plistlimit.Unmarshal([]byte(deep), &msg, plistlimit.Limits{})
	fmt.Println(errors.Is(err, plistlimit.ErrTooDeep))
	// Output:
	// Authenticate 0000-1111 <nil>
	// true
}
