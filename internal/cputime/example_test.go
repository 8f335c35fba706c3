package cputime_test

import (
	"fmt"

	"github.com/openomm/omm/internal/cputime"
)

func Example() {
	start, ok := cputime.Process()
	sum := 0
	for i := range 1_000_000 {
		sum += i
	}
	end, _ := cputime.Process()
	fmt.Println(ok, end >= start, sum > 0)
	// Output: true true true
}
