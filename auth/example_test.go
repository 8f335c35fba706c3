package auth_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// hrDirectory is an embedder's own directory: passwords are still checked
// by the built-in directory, but groups come from the HR system (here a
// map of departments), and people who left per HR cannot sign in even if
// IT has not deactivated them yet.
type hrDirectory struct {
	auth.Authenticator
	departments map[string]string // username → department
	left        map[string]bool
}

func (d hrDirectory) Authenticate(ctx context.Context, org storage.OrgID, username, password string) (auth.User, error) {
	u, err := d.Authenticator.Authenticate(ctx, org, username, password)
	if err == nil && d.left[u.Username] {
		u.Status = auth.StatusDeactivated // the service refuses it like a wrong password
	}
	return u, err
}

func (d hrDirectory) Groups(ctx context.Context, org storage.OrgID, userID string) ([]auth.Group, error) {
	u, err := d.Authenticator.User(ctx, org, userID)
	if err != nil {
		return nil, err
	}
	dept, ok := d.departments[u.Username]
	if !ok {
		return []auth.Group{}, nil
	}
	return []auth.Group{{Org: org, ID: "dept:" + dept, Name: dept}}, nil
}

// Example wraps a custom directory: the service signs in against it, and
// other packages (policy, catalog) ask it for groups.
func Example() {
	ctx := context.Background()
	store := memory.New()
	org, err := store.CreateOrg(ctx, storage.Org{ID: "org_acme", Name: "acme", DisplayName: "Acme Inc."},
		storage.AuditEntry{Org: "org_acme", Time: time.Now(), Actor: "system", Action: "org.create"})
	if err != nil {
		log.Fatal(err)
	}
	local, err := auth.NewLocalDirectory(store)
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"alice", "mallory"} {
		if _, err := local.CreateUser(ctx, auth.User{Org: org.ID, Username: name}, name+"-secret-pw", "admin:root"); err != nil {
			log.Fatal(err)
		}
	}
	dir := hrDirectory{Authenticator: local, departments: map[string]string{"alice": "Sales"}, left: map[string]bool{"mallory": true}}

	svc, err := auth.New(store, dir, auth.WithDomains(auth.Domains{Base: []string{"example.com"}}))
	if err != nil {
		log.Fatal(err)
	}
	res, err := svc.SignIn(ctx, "https://acme.example.com", "Alice", "alice-secret-pw")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("alice:", res.Session.State)
	groups, _ := dir.Groups(ctx, org.ID, res.User.ID)
	fmt.Println("alice's groups:", groups[0].Name)

	_, err = svc.SignIn(ctx, "acme", "mallory", "mallory-secret-pw")
	fmt.Println("mallory:", err)
	// Output:
	// alice: pin_setup
	// alice's groups: Sales
	// mallory: invalid username or password
}

func ExampleDomains_ParseSite() {
	d := auth.Domains{Base: []string{"example.com"}, Preview: []string{"preview.example.com"}, PreviewSuffix: "-preview"}
	for _, in := range []string{"acme", "Acme.Example.com", "https://acme.example.com/login", "acme.preview.example.com", "acme-preview.example.com", "acme.evil.com"} {
		site, err := d.ParseSite(in)
		fmt.Printf("%-32s → %+v %v\n", in, site, err)
	}
	// Output:
	// acme                             → {Name:acme Preview:false} <nil>
	// Acme.Example.com                 → {Name:acme Preview:false} <nil>
	// https://acme.example.com/login   → {Name:acme Preview:false} <nil>
	// acme.preview.example.com         → {Name:acme Preview:true} <nil>
	// acme-preview.example.com         → {Name:acme Preview:true} <nil>
	// acme.evil.com                    → {Name: Preview:false} unknown site: "acme.evil.com"
}

// ExamplePINPolicy_Check shows which PINs the default policy refuses.
func ExamplePINPolicy_Check() {
	p := auth.DefaultPINPolicy()
	for _, pin := range []string{"4812", "1234", "0000", "481"} {
		fmt.Printf("%s: %v\n", pin, p.Check(pin))
	}
	// Output:
	// 4812: <nil>
	// 1234: PIN not acceptable: too simple (repeated, sequential or patterned)
	// 0000: PIN not acceptable: too simple (repeated, sequential or patterned)
	// 481: PIN not acceptable: use 4–16 characters
}

// ExampleSender connects a real SMS and voice gateway: a function that
// hands the code to the gateway's API (here a stand-in that prints what
// it would send). The service generates, stores (hashed) and checks the
// codes; the gateway only delivers them.
func ExampleSender() {
	gateway := auth.SenderFunc(func(ctx context.Context, m auth.CodeMessage) error {
		text := fmt.Sprintf("%s sign-in code: %s. It expires at %s.", m.OrgName, m.Code, m.Expires.Format("15:04 MST"))
		switch m.Channel {
		case auth.ChannelSMS:
			// e.g. POST https://sms.example.com/v1/messages {"to": m.Phone, "text": text}
			fmt.Printf("text to %s: %d characters\n", m.Phone, len(text))
		case auth.ChannelVoice:
			// e.g. POST https://voice.example.com/v1/calls {"to": m.Phone, "say": text}
			fmt.Printf("call to %s\n", m.Phone)
		}
		return nil // an error tells the user the code may not have arrived
	})
	_ = auth.WithSender(gateway) // pass to auth.New, or as omm.Config.MFASender

	gateway.SendCode(context.Background(), auth.CodeMessage{OrgName: "Acme", Phone: "+15555550123", Channel: auth.ChannelSMS,
		Code: "123456", Expires: time.Date(2026, 3, 14, 9, 10, 0, 0, time.UTC)})
	gateway.SendCode(context.Background(), auth.CodeMessage{OrgName: "Acme", Phone: "+15555550123", Channel: auth.ChannelVoice,
		Code: "654321", Expires: time.Date(2026, 3, 14, 9, 10, 0, 0, time.UTC)})
	// Output:
	// text to +15555550123: 51 characters
	// call to +15555550123
}
