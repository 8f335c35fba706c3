package mdm_test

import (
	"bytes"
	"testing"

	"github.com/micromdm/plist"

	"github.com/openomm/omm/enroll/mdm"
)

// TestDeclarativeManagementCommand checks that the synchronisation tokens
// travel as the command's Data, and that a command without them has none.
func TestDeclarativeManagementCommand(t *testing.T) {
	tokens := []byte(`{"SyncTokens":{"DeclarationsToken":"abc","Timestamp":"2026-01-02T03:04:05Z"}}`)
	for _, c := range []struct {
		tokens []byte
		want   []byte
	}{{tokens, tokens}, {nil, nil}} {
		cmd := mdm.DeclarativeManagementCommand(c.tokens)
		b, err := cmd.Encode()
		if err != nil {
			t.Fatal(err)
		}
		var env struct {
			CommandUUID string
			Command     struct {
				RequestType string
				Data        []byte
			}
		}
		if err := plist.Unmarshal(b, &env); err != nil {
			t.Fatal(err)
		}
		if env.Command.RequestType != "DeclarativeManagement" || env.CommandUUID != cmd.UUID || !bytes.Equal(env.Command.Data, c.want) {
			t.Errorf("DeclarativeManagement(%q) encodes %+v", c.tokens, env)
		}
	}
	// The command keeps its own copy of the tokens.
	buf := []byte(`{"SyncTokens":{}}`)
	cmd := mdm.DeclarativeManagementCommand(buf)
	buf[2] = 'X'
	b, _ := cmd.Encode()
	if !bytes.Contains(b, []byte("eyJTeW5jVG9rZW5zIjp7fX0=")) {
		t.Errorf("command changed with the caller's buffer:\n%s", b)
	}
}
