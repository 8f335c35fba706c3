package discovery_test

import (
	"fmt"

	"github.com/openomm/omm/android/internal/discovery"
)

func Example() {
	doc, _ := discovery.Parse([]byte(`{"schemas":{"Thing":{"type":"object","properties":{
		"size":{"type":"integer"},
		"colour":{"type":"string","enum":["COLOUR_UNSPECIFIED","RED"]},
		"old":{"type":"boolean","deprecated":true}}}}}`))
	for _, err := range doc.Validate("Thing", []byte(`{"size":"2","colour":"COLOUR_UNSPECIFIED","old":true,"extra":1}`)) {
		fmt.Println(err)
	}
	// Output:
	// Thing.colour: "COLOUR_UNSPECIFIED" is an unspecified value
	// Thing: unknown field "extra"
	// Thing: field "old" is deprecated
	// Thing.size: want an integer, got a string
}
