package jsonapi_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/openomm/omm/internal/jsonapi"
)

func ExampleDecode() {
	var req struct {
		Site string `json:"site"`
	}
	err := jsonapi.Decode(strings.NewReader(`{"site":"acme","admin":true}`), &req, jsonapi.Limits{MaxBytes: 1024})
	fmt.Println(errors.Is(err, jsonapi.ErrBadBody))
	err = jsonapi.Decode(strings.NewReader(`{"site":"acme"}`), &req, jsonapi.Limits{MaxBytes: 1024})
	fmt.Println(req.Site, err)
	// Output:
	// true
	// acme <nil>
}
