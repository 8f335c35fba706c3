// Command embed is a pretend identity product, "Acme ID", that embeds the
// OMM SDK as a real one would. Acme keeps its users and their groups in its
// own table (acme_users) of its own SQLite database, signs people in with
// its own login API and session tokens, and serves its own ServeMux. The
// SDK lives inside it: its tables in Acme's database under the prefix
// "mdm_" (storage/sqlite.OpenDB on Acme's *sql.DB), its device and agent
// endpoints under /device-mgmt/ with Acme's sessions (omm.WithAgentAuth:
// the SDK's own sign-in is not served), and its admin API under
// /device-mgmt/api/admin behind Acme's admin check. Acme implements
// auth.Directory over acme_users (five methods) and calls sdk.UserChanged
// when an admin changes a user's groups or status. It also keeps its own
// audit log (acme_audit) from the SDK's event stream, exactly once: the
// events and the cursor (their highest seq) commit together. That is all
// an embedder writes.
//
//	go run ./examples/embed [-listen 127.0.0.1:8444] [-db acme.db] [-allow-simulators]
//
// It prints its users' passwords once and writes its self-signed TLS
// certificate to acme-cert.pem. POST /login {"username","password"}
// answers a bearer token; an admin (ada) changes a user with
// PUT /admin/users/{id} {"groups":["staff"],"active":true}. A simulated
// phone walks through it with examples/devicesim:
//
//	devicesim ios -server https://127.0.0.1:8444/device-mgmt -ca acme-cert.pem -agent-token TOKEN -admin-token ADA_TOKEN
//
// The test (embed_test.go) does exactly that for an iPhone and an Android
// phone, running devicesim as a child process rather than device helpers
// in-process: it proves that a URL prefix and a token the host issued are
// all a device-side client needs from an embedding product.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/openomm/omm"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/devicetls"
	"github.com/openomm/omm/events"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/sqlite"
)

const org = storage.OrgID("org_acme") // Acme is one organization

var groups = map[string]string{"contractors": "Contractors", "staff": "Staff"} // Acme's groups by ID

// acme is the product: its database, its sessions, and the SDK inside.
type acme struct {
	db       *sql.DB
	sdk      *omm.SDK
	mu       sync.Mutex
	sessions map[string]string // bearer token → user ID
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8444", "address to serve HTTPS on")
	db := flag.String("db", "acme.db", "Acme's SQLite database")
	sims := flag.Bool("allow-simulators", false, "accept simulated iPhones in OTA enrollment (never in production)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *listen, *db, "acme-cert.pem", *sims, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, listen, dbFile, certFile string, sims bool, out io.Writer) error {
	db, err := sql.Open("sqlite", "file:"+dbFile+"?_foreign_keys=1&_busy_timeout=10000&_journal_mode=WAL&_synchronous=FULL&_txlock=immediate")
	if err != nil {
		return err
	}
	defer db.Close()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	a := &acme{db: db, sessions: map[string]string{}}
	cert, err := selfSigned(certFile)
	if err == nil {
		err = a.setUp(ctx, "https://"+ln.Addr().String()+"/device-mgmt", sims, out)
	}
	if err != nil {
		return err
	}
	// devicetls's listener serves the phones' TLS: the post-quantum hybrid
	// on full handshakes, X25519 on resuming those sessions.
	tlsLn, err := devicetls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"},
		Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert}, devicetls.Hybrid) // devices present their MDM identity
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: a.mux(), ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Shutdown(context.Background()) }()
	go a.follow(ctx)
	fmt.Fprintf(out, "acme ready on https://%s/, device management under /device-mgmt/\n", ln.Addr())
	if err := srv.Serve(tlsLn); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// setUp creates Acme's table and users, opens the SDK in Acme's database
// and gives staff a mobile policy.
func (a *acme) setUp(ctx context.Context, publicURL string, sims bool, out io.Writer) error {
	_, err := a.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS acme_users (id TEXT PRIMARY KEY, username TEXT UNIQUE NOT NULL,
		password TEXT NOT NULL, groups TEXT NOT NULL, active BOOLEAN NOT NULL, admin BOOLEAN NOT NULL);
		CREATE TABLE IF NOT EXISTS acme_audit (seq INTEGER PRIMARY KEY, event TEXT NOT NULL, device TEXT, user TEXT, at TEXT)`)
	for _, u := range [][3]string{{"ada", "staff", "1"}, {"bob", "staff", "0"}, {"cy", "contractors", "0"}} {
		pw := rand.Text() // a real product stores a hash
		if res, e := a.db.ExecContext(ctx, `INSERT OR IGNORE INTO acme_users VALUES (?, ?, ?, ?, 1, ?)`, "u_"+u[0], u[0], pw, u[1], u[2]); e != nil {
			err = errors.Join(err, e)
		} else if n, _ := res.RowsAffected(); n == 1 {
			fmt.Fprintf(out, "  user %s password %s\n", u[0], pw)
		}
	}
	st, e := sqlite.OpenDB(ctx, a.db, sqlite.WithPrefix("mdm_"))
	if err = errors.Join(err, e); err != nil {
		return err
	}
	_, err = st.CreateOrg(ctx, storage.Org{ID: org, Name: "acme", DisplayName: "Acme Inc."},
		storage.AuditEntry{Org: org, Time: time.Now(), Actor: "acme:setup", Action: storage.ActionOrgCreate})
	if err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
		return err
	}
	if a.sdk, err = omm.New(ctx, omm.Config{Store: st, Directory: a, PublicURL: publicURL, AllowSimulators: sims}); err != nil {
		return err
	}
	if list, err := a.sdk.Policy.List(ctx, org); err != nil || len(list) > 1 { // beside the built-in default
		return err
	}
	pc := policy.Passcode{Required: true, MinLength: 8, MaxFailedAttempts: 8, AutoLockMinutes: 2}
	_, err = a.sdk.CreatePolicy(ctx, "acme:setup", policy.Policy{Org: org, Name: "Staff phones", Priority: 10, Groups: []string{"staff"},
		Rules: map[policy.Platform]policy.Rule{
			policy.IOS: {Action: policy.Require, Requirements: policy.Requirements{Passcode: pc,
				DataSeparation: policy.DataSeparation{BlockManagedToUnmanaged: true}}},
			policy.Android: {Action: policy.Require, Requirements: policy.Requirements{Passcode: pc, AllowFullWipe: true,
				Android: policy.AndroidRequirements{Modes: policy.Modes{DeviceAdmin: true}}}},
		}})
	return err
}

// follow copies the SDK's event stream into acme_audit until ctx ends.
func (a *acme) follow(ctx context.Context) {
	for ctx.Err() == nil {
		var after int64
		err := a.db.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM acme_audit`).Scan(&after)
		page, err2 := a.sdk.Events(ctx, org, events.Query{After: after})
		if err == nil && err2 == nil && len(page.Events) > 0 {
			tx, err := a.db.BeginTx(ctx, nil)
			for _, e := range page.Events {
				if err == nil {
					_, err = tx.ExecContext(ctx, `INSERT INTO acme_audit VALUES (?, ?, ?, ?, ?)`, e.Seq, e.Kind, e.Device, e.User, e.Time.Format(time.RFC3339))
				}
			}
			if err == nil && tx.Commit() == nil {
				continue // more may be waiting
			}
			tx.Rollback()
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// mux is Acme's own router, with the SDK mounted in it.
func (a *acme) mux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("PUT /admin/users/{id}", a.setUser)
	mux.HandleFunc("GET /admin/audit", a.audit)
	mux.Handle("/device-mgmt/", a.sdk.Handler(omm.WithAgentAuth(func(r *http.Request) (omm.Principal, error) {
		u, err := a.session(r, false)
		return omm.Principal{Org: org, UserID: u.ID, Actor: "acme:" + u.Username}, err
	})))
	mux.Handle("/device-mgmt/api/admin/", a.sdk.AdminHandler("/device-mgmt/api/admin", func(r *http.Request) (omm.Admin, error) {
		u, err := a.session(r, true)
		return omm.Admin{Org: org, Actor: "admin:" + u.Username, User: u.ID}, err
	}))
	return mux
}

func (a *acme) login(w http.ResponseWriter, r *http.Request) {
	var in struct{ Username, Password string }
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&in)
	u, e := a.user(r.Context(), org, "username", in.Username)
	if err != nil || e != nil || !u.active || subtle.ConstantTimeCompare([]byte(u.password), []byte(in.Password)) != 1 {
		http.Error(w, "wrong username or password", http.StatusUnauthorized)
		return
	}
	token := rand.Text() + rand.Text() // 260 bits
	a.mu.Lock()
	a.sessions[token] = u.ID
	a.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]string{"token": token, "user_id": u.ID})
}

// session is the active user (an admin, when admin is set) of the
// request's bearer token.
func (a *acme) session(r *http.Request, admin bool) (row, error) {
	a.mu.Lock()
	id, ok := a.sessions[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	a.mu.Unlock()
	u, err := a.user(r.Context(), org, "id", id)
	if !ok || err != nil || !u.active || admin && !u.admin {
		return row{}, errors.New("sign in to Acme first")
	}
	return u, nil
}

// setUser changes a user's groups and status, and tells the SDK: it
// re-applies the policy to the user's devices, or deprovisions them when
// the user is no longer active.
func (a *acme) setUser(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Groups []string
		Active bool
	}
	admin, err := a.session(r, true)
	if err == nil {
		err = json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&in)
	}
	if err != nil || slices.ContainsFunc(in.Groups, func(g string) bool { return groups[g] == "" }) {
		http.Error(w, "an administrator names known groups", http.StatusBadRequest)
		return
	}
	_, err = a.db.ExecContext(r.Context(), `UPDATE acme_users SET groups = ?, active = ? WHERE id = ?`,
		strings.Join(in.Groups, ","), in.Active, r.PathValue("id"))
	if err == nil {
		err = a.sdk.UserChanged(r.Context(), org, r.PathValue("id"), "admin:"+admin.Username)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// audit lists acme_audit, newest first, to Acme's admins.
func (a *acme) audit(w http.ResponseWriter, r *http.Request) {
	if _, err := a.session(r, true); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	out := []map[string]string{}
	rows, err := a.db.QueryContext(r.Context(), `SELECT seq, event, device, user, at FROM acme_audit ORDER BY seq DESC LIMIT 100`)
	for err == nil && rows.Next() {
		var seq, ev, dev, user, at string
		if err = rows.Scan(&seq, &ev, &dev, &user, &at); err == nil {
			out = append(out, map[string]string{"seq": seq, "event": ev, "device": dev, "user": user, "at": at})
		}
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	rows.Close()
	json.NewEncoder(w).Encode(out)
}

// row is one row of acme_users.
type row struct {
	auth.User
	password      string
	groups        []string
	active, admin bool
}

// user is the row of acme_users whose column is value, or
// storage.ErrNotFound; another org has none.
func (a *acme) user(ctx context.Context, o storage.OrgID, column, value string) (row, error) {
	u, gs := row{User: auth.User{Org: org, Status: auth.StatusDeactivated}}, ""
	err := a.db.QueryRowContext(ctx, `SELECT id, username, password, groups, active, admin FROM acme_users WHERE `+column+` = ?`, value).
		Scan(&u.ID, &u.Username, &u.password, &gs, &u.active, &u.admin)
	if errors.Is(err, sql.ErrNoRows) || o != org {
		return row{}, fmt.Errorf("acme user %q: %w", value, storage.ErrNotFound)
	}
	if u.DisplayName, u.groups = u.Username, strings.Split(gs, ","); u.active {
		u.Status = auth.StatusActive
	}
	return u, err
}

// The five methods of auth.Directory, over acme_users.

func (a *acme) User(ctx context.Context, o storage.OrgID, id string) (auth.User, error) {
	u, err := a.user(ctx, o, "id", id)
	return u.User, err
}

func (a *acme) UserByName(ctx context.Context, o storage.OrgID, name string) (auth.User, error) {
	u, err := a.user(ctx, o, "username", name)
	return u.User, err
}

func (a *acme) Groups(ctx context.Context, o storage.OrgID, userID string) ([]auth.Group, error) {
	u, err := a.user(ctx, o, "id", userID)
	var out []auth.Group
	for _, id := range u.groups {
		if g, e := a.Group(ctx, o, id); e == nil {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(x, y auth.Group) int { return strings.Compare(x.Name, y.Name) })
	return out, err
}

func (a *acme) Group(_ context.Context, o storage.OrgID, id string) (auth.Group, error) {
	if name := groups[id]; name != "" && o == org {
		return auth.Group{Org: org, ID: id, Name: name}, nil
	}
	return auth.Group{}, fmt.Errorf("acme group %q: %w", id, storage.ErrNotFound)
}

func (a *acme) GroupMembers(ctx context.Context, o storage.OrgID, groupID string) ([]string, error) {
	if _, err := a.Group(ctx, o, groupID); err != nil {
		return nil, err
	}
	rows, err := a.db.QueryContext(ctx, `SELECT id FROM acme_users WHERE ','||groups||',' LIKE ? ORDER BY id`, "%,"+groupID+",%")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		err = errors.Join(err, rows.Scan(&id))
		ids = append(ids, id)
	}
	return ids, errors.Join(err, rows.Err())
}

// selfSigned makes a TLS certificate for 127.0.0.1 and localhost and writes
// it to file for clients to trust.
func selfSigned(file string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().AddDate(0, 0, 30), DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv6loopback, {127, 0, 0, 1}}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err == nil {
		err = os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, err
}
