package apnstest_test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net/http"

	"github.com/openomm/omm/enroll/apns/apnstest"
)

// The fake records each push and answers as told.
func ExampleServer() {
	srv := apnstest.NewServer()
	defer srv.Close()
	srv.Answer("feed", apnstest.Answer{Status: http.StatusGone, Reason: "Unregistered"})

	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: srv.RootCAs()},
		ForceAttemptHTTP2: true,
	}}
	for _, token := range []string{"beef", "feed"} {
		req, _ := http.NewRequest("POST", srv.URL()+"/3/device/"+token, bytes.NewReader([]byte(`{"mdm":"magic"}`)))
		req.Header.Set("apns-topic", "com.apple.mgmt.External.example")
		resp, err := client.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(token, resp.StatusCode, resp.Proto)
	}
	fmt.Println(len(srv.Pushes()), srv.Pushes()[1].PushMagic)
	// Output:
	// beef 200 HTTP/2.0
	// feed 410 HTTP/2.0
	// 2 magic
}
