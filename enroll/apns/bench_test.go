package apns_test

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/openomm/omm/enroll/apns"
	"github.com/openomm/omm/enroll/apns/apnstest"
)

// BenchmarkPushAll measures a fan-out of one push to 1,000 devices through
// the local fake APNs over HTTP/2 on loopback (client and fake share the
// machine's cores, so this is a floor for the client's throughput), over
// one, two and four connections.
func BenchmarkPushAll(b *testing.B) {
	for _, bc := range []struct {
		name               string
		conns, concurrency int
	}{{"conns=1", 1, 100}, {"conns=2", 2, 100}, {"conns=4", 4, 200}} {
		b.Run(bc.name, func(b *testing.B) {
			benchPushAll(b, 1000, apns.WithConnections(bc.conns), apns.WithConcurrency(bc.concurrency))
		})
	}
}

// BenchmarkPushAllStreams: 10,000 pushes over 1, 2 and 4 connections with
// 100 to 1,000 streams in flight in all (the fake, like APNs, allows 500
// per connection). More streams per connection let both sides put several
// frames into one TLS write.
func BenchmarkPushAllStreams(b *testing.B) {
	for _, conns := range []int{1, 2, 4} {
		for _, streams := range []int{16, 32, 64, 100, 500} {
			b.Run(fmt.Sprintf("conns=%d/inflight=%d", conns, streams), func(b *testing.B) {
				benchPushAll(b, 10_000, apns.WithConnections(conns), apns.WithConcurrency(streams))
			})
		}
	}
}

func benchPushAll(b *testing.B, n int, opts ...apns.Option) {
	srv := apnstest.NewServer()
	defer srv.Close()
	c := newClient(b, srv, opts...)
	targets := make([]apns.Target, n)
	for i := range targets {
		tok := make([]byte, 32)
		binary.BigEndian.PutUint64(tok, uint64(i))
		targets[i] = apns.Target{Token: tok, PushMagic: "5A1A6F8B-0F43-4C2E-9B0A-3C4E1D2B3A49"}
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, r := range c.PushAll(b.Context(), targets) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(targets))/b.Elapsed().Seconds(), "pushes/s")
}
