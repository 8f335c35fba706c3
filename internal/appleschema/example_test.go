package appleschema_test

import (
	"fmt"

	"github.com/openomm/omm/internal/appleschema"
)

// Check reports every key Apple's schema does not define, every wrong type
// and every missing required key.
func ExampleCheck() {
	keys := []appleschema.Key{
		{Key: "RequestType", Type: "<string>", Presence: "required"},
		{Key: "ManagedOnly", Type: "<boolean>"},
	}
	problems := appleschema.Check("ProfileList", map[string]any{"ManagedOnly": "yes", "Extra": int64(1)}, keys)
	for _, p := range problems {
		fmt.Println(p)
	}
	// Output:
	// ProfileList.Extra: key not in schema
	// ProfileList.ManagedOnly: is <string>, schema says <boolean>
	// ProfileList.RequestType: required key missing
}
