package postgres_test

import (
	"context"
	"fmt"
	"os"

	"github.com/openomm/omm/storage/postgres"
)

// Open connects, sizes the pool and migrates the schema. This example needs
// a server, so it is compiled but not run; the conformance tests run the
// same calls when OMM_TEST_POSTGRES_DSN is set.
func Example() {
	ctx := context.Background()
	s, err := postgres.Open(ctx, os.Getenv("OMM_POSTGRES_DSN"),
		postgres.WithSchema("omm"), // keep the tables apart from the embedder's
		postgres.WithPoolSize(32))  // sized for the servers' concurrency
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	orgs, err := s.ListOrgs(ctx)
	fmt.Println(len(orgs), err)
}
