package policy_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openomm/omm/policy"
)

func TestBodyRoundTrip(t *testing.T) {
	withText := clone(executives)
	withText.Agreement = "<b>Terms</b> & \"conditions\"\n\tline two ✓"
	withText.Groups = []string{`cn=a\,b`, "グループ", `quote"d`}
	withMFA := clone(executives)
	withMFA.RequireMFA = true
	for _, p := range append(fixtures(), withText, withMFA, policy.Default(org)) {
		data, err := p.MarshalBody()
		if err != nil {
			t.Fatalf("%s: MarshalBody: %v", p.Name, err)
		}
		got := policy.Policy{ID: p.ID, Org: p.Org, Name: p.Name, Priority: p.Priority}
		if err := got.UnmarshalBody(data); err != nil {
			t.Fatalf("%s: UnmarshalBody(%s): %v", p.Name, data, err)
		}
		want := p.Normalize()
		want.Description = ""
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s: round trip (-want +got):\n%s", p.Name, d)
		}
	}
}

func TestUnmarshalBodyRejects(t *testing.T) {
	deep := `{"groups":[],"rules":{"ios":{"requirements":{"android":{"modes":` + strings.Repeat("[", 10) + strings.Repeat("]", 10) + `}}}}}`
	tests := map[string][]byte{
		"not JSON":         []byte("groups: [a]"),
		"unknown field":    []byte(`{"groups":[],"rules":{},"owner":"mallory"}`),
		"unknown rule key": []byte(`{"groups":[],"rules":{"ios":{"action":"allow","requirements":{"jailbreak":true}}}}`),
		"trailing data":    []byte(`{"groups":[],"rules":{}} {}`),
		"wrong type":       []byte(`{"groups":"staff","rules":{}}`),
		"too deep":         []byte(deep),
		"too large":        append(append([]byte(`{"groups":["`), bytes.Repeat([]byte("g"), policy.MaxBodyBytes)...), `"],"rules":{}}`...),
	}
	for name, data := range tests {
		var p policy.Policy
		if err := p.UnmarshalBody(data); err == nil {
			t.Errorf("%s: UnmarshalBody accepted %.80s", name, data)
		}
	}
	// Brackets inside strings do not count as nesting.
	var p policy.Policy
	if err := p.UnmarshalBody([]byte(`{"groups":["[[[[[[[[[[[[[[[[[[\"{{{{{{{{{{{{{{"],"rules":{}}`)); err != nil {
		t.Errorf("brackets in a string: %v", err)
	}
}

// FuzzUnmarshalBody feeds arbitrary stored bodies to the decoder: it must
// never panic, and whatever it accepts must survive a round trip unchanged.
func FuzzUnmarshalBody(f *testing.F) {
	for _, p := range fixtures() {
		data, err := p.MarshalBody()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"groups":null,"rules":null}`))
	f.Add([]byte(`{"groups":["a"],"agreement":"\u00e9\n","rules":{"windows":{"action":"x"}}}`))
	f.Add([]byte(strings.Repeat("[", 100)))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p policy.Policy
		if err := p.UnmarshalBody(data); err != nil {
			return
		}
		again, err := p.MarshalBody()
		if err != nil {
			return // accepted but over the size limit once re-encoded
		}
		var q policy.Policy
		if err := q.UnmarshalBody(again); err != nil {
			t.Fatalf("re-encoded body %s rejected: %v", again, err)
		}
		if d := cmp.Diff(p, q); d != "" {
			t.Fatalf("round trip changed the policy (-first +second):\n%s", d)
		}
	})
}
