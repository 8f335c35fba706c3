package apns_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/openomm/omm/enroll/apns"
	"github.com/openomm/omm/enroll/apns/apnstest"
)

// Wake a device, and learn from APNs that another one's token is dead.
func Example() {
	srv := apnstest.NewServer() // a local stand-in for Apple
	defer srv.Close()
	srv.Answer("0badc0de", apnstest.Answer{Status: http.StatusGone, Reason: "Unregistered"})

	cert, _, err := makePushCert() // yours comes from Apple's push certificates portal
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := apns.New(topic, apns.WithCertificate(cert),
		apns.WithEndpoint(srv.URL()), apns.WithRootCAs(srv.RootCAs()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	results := c.PushAll(context.Background(), []apns.Target{
		{Token: []byte{0x12, 0x34}, PushMagic: "5A1A6F8B-0F43-4C2E-9B0A-3C4E1D2B3A49"},
		{Token: []byte{0x0b, 0xad, 0xc0, 0xde}, PushMagic: "C0FFEE00-0000-4000-8000-000000000000"},
	})
	for _, r := range results {
		fmt.Printf("%x accepted=%v token dead=%v\n", r.Target.Token, r.Err == nil, errors.Is(r.Err, apns.ErrTokenDead))
	}
	fmt.Println(srv.Pushes()[0].PushType, srv.Pushes()[0].Topic == topic)
	// Output:
	// 1234 accepted=true token dead=false
	// 0badc0de accepted=false token dead=true
	// mdm true
}
