package catalog

import (
	"errors"
	"reflect"
	"testing"

	"github.com/openomm/omm/auth"
)

// FuzzDecodeApp feeds admin request bodies through the JSON guard and the
// app checks: no input may panic, and an app that passes its checks must
// survive the store's configuration encoding unchanged.
func FuzzDecodeApp(f *testing.F) {
	f.Add([]byte(`{"kind":"ios_app_store","identifier":"com.acme.mail","store_id":1,"name":"Mail","config":[{"key":"u","type":"string","value":"${user.login}"}]}`))
	f.Add([]byte(`{"kind":"ios_in_house","identifier":"com.acme.s","manifest_url":"https://a.example/m.plist","bundle_version":"1.2","name":"S"}`))
	f.Add([]byte(`{"kind":"android_play","identifier":"com.acme.chat","name":"Chat","config":[{"key":"n","type":"real","value":"1e3"}]}`))
	f.Add([]byte(`{"config":[[[[[[[[[[]]]]]]]]]]}`))
	f.Add([]byte(`{"name":"\"}{[","kind":"x"} trailing`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var j appJSON
		if err := decodeJSON(data, &j); err != nil {
			if !errors.Is(err, errBadRequest) {
				t.Fatalf("decode error %v is not a bad request", err)
			}
			return
		}
		a := j.app("org_fuzz")
		a.ID = "app_fuzz"
		if a.Validate() != nil {
			return
		}
		enc, err := a.MarshalConfig()
		if err != nil {
			t.Fatal(err)
		}
		var back App
		if err := back.UnmarshalConfig(enc); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back.Config, a.Normalize().Config) {
			t.Fatalf("configuration changed through the store encoding: %v → %v", a.Config, back.Config)
		}
		if _, err := ResolveConfig(a.Config, auth.User{ID: "u", Username: "l", Email: "e", DisplayName: "d"}); err != nil {
			t.Fatalf("a valid configuration does not resolve for a complete user: %v", err)
		}
	})
}
