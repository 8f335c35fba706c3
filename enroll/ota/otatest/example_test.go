package otatest_test

import (
	"fmt"

	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/enroll/ota/otatest"
	"github.com/openomm/omm/internal/cms"
)

// A test device signs its phase 2 attributes; the stand-in chain verifies
// them the way the real Apple chain verifies a real iPhone's.
func Example() {
	chain, err := otatest.NewChain()
	if err != nil {
		panic(err)
	}
	dev, _ := chain.NewDevice("00008110-000A1D2E3F40801E")
	body, _ := dev.Phase2("challenge", map[string]string{"SERIAL": "F2LXK0ABCDEF"})

	apple, _ := ota.NewAppleChain(chain.PEM)
	sd, _ := cms.Parse(body, cms.Limits{})
	_, err = sd.Verify(cms.VerifyOptions{VerifyChain: apple.Verify})
	fmt.Println("BER with indefinite lengths:", body[1] == 0x80)
	fmt.Println("verifies against the test chain:", err == nil)
	_, err = sd.Verify(cms.VerifyOptions{VerifyChain: ota.DefaultAppleChain().Verify})
	fmt.Println("verifies against Apple's chain:", err == nil)
	// Output:
	// BER with indefinite lengths: true
	// verifies against the test chain: true
	// verifies against Apple's chain: false
}
