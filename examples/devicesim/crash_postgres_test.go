package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the checks' queries
)

// TestCrashPostgres is TestCrashSQLite against PostgreSQL (when
// OMM_TEST_POSTGRES_DSN is set), with the server's database connections
// cut mid-transaction instead of the server killed: a TCP proxy between
// server and PostgreSQL drops every connection at a random point of each
// round, and the server carries on with new ones. The same checks follow.
func TestCrashPostgres(t *testing.T) {
	dsn := os.Getenv("OMM_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("OMM_TEST_POSTGRES_DSN not set")
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := pgTestSchema(t, dsn, "crash_")
	proxy := startCutProxy(t, u.Host)
	proxied := *u
	proxied.Host = proxy.addr()

	h := newCrashHarness(t, "-postgres", proxied.String(), "-postgres-schema", schema)
	h.db = pgDB(dsn, schema)
	for round := range *crashRounds {
		h.round(t, round, func() {
			n := proxy.cut()
			if n == 0 {
				t.Errorf("round %d: no database connection to cut", round)
			}
			t.Logf("round %d: cut %d database connections", round, n)
		})
		if t.Failed() {
			return
		}
	}
}

// pgTestSchema returns a fresh schema name starting with prefix, dropped
// with everything in it when the test ends.
func pgTestSchema(t *testing.T, dsn, prefix string) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	schema := prefix + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Errorf("drop schema: %v", err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	return schema
}

// pgDB opens the database of dsn with schema first on the search path,
// for the checks' queries.
func pgDB(dsn, schema string) func(t *testing.T) *sql.DB {
	return func(t *testing.T) *sql.DB {
		t.Helper()
		direct, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := direct.Query()
		q.Set("search_path", schema)
		direct.RawQuery = q.Encode()
		db, err := sql.Open("pgx", direct.String())
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
}

// cutProxy forwards TCP connections to a target and can drop them all at
// once.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() {
		ln.Close()
		p.cut()
	})
	go p.serve()
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.pipe(c)
	}
}

func (p *cutProxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		io.Copy(up, c) //nolint:errcheck // ends when either side closes
		up.Close()
		close(done)
	}()
	io.Copy(c, up) //nolint:errcheck // ends when either side closes
	c.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// cut closes every forwarded connection, both ends, and returns how many
// client connections there were.
func (p *cutProxy) cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	return len(p.conns) / 2
}
