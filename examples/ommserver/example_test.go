package main

import (
	"fmt"
	"io"
)

// The server runs with zero configuration: SQLite in ./omm-data, HTTPS on
// the loopback interface, push disabled.
func Example_zeroConfig() {
	c, err := parseFlags([]string{"-data", "omm-data", "-listen", "127.0.0.1:8443", "-postgres", ""}, io.Discard)
	if err != nil {
		panic(err)
	}
	ps, _ := setupPush(c, discardLog())
	fmt.Println(c.dataDir, c.listen, c.postgres == "", ps.mode)
	// Output: omm-data 127.0.0.1:8443 true disabled
}
