package mdm_test

import (
	"testing"

	"github.com/openomm/omm/enroll/mdm"
)

// BenchmarkParseCheckIn decodes a real TokenUpdate, the most frequent
// check-in with a body of any size (limits check + decode).
func BenchmarkParseCheckIn(b *testing.B) {
	body := fixture(b, "TokenUpdate.1.plist")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := mdm.ParseCheckIn(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseResult decodes the envelope of a real DeviceInformation
// result.
func BenchmarkParseResult(b *testing.B) {
	body := fixture(b, "DeviceInformation.1.plist")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := mdm.ParseResult(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeCommand encodes a DeviceInformation command.
func BenchmarkEncodeCommand(b *testing.B) {
	cmd := mdm.DeviceInformation([]string{"DeviceName", "OSVersion", "SerialNumber", "ModelName", "Model", "DeviceCapacity", "AvailableDeviceCapacity"})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cmd.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}
