package seal_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/openomm/omm/storage/seal"
)

func Example() {
	dir, _ := os.MkdirTemp("", "seal")
	defer os.RemoveAll(dir)
	// The key lives in a file of its own, beside (not in) the database.
	k, err := seal.LoadOrCreateKeyFile(filepath.Join(dir, "secrets.key"), nil)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	stored, _ := seal.SealString(ctx, k, "JBSWY3DPEHPK3PXP", "totp:org_acme:usr_1")
	secret, sealed, _ := seal.OpenString(ctx, k, stored, "totp:org_acme:usr_1")
	fmt.Println(secret, sealed)
	// Output: JBSWY3DPEHPK3PXP true
}
