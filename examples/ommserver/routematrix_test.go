package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm/events"

	"github.com/micromdm/plist"

	"github.com/openomm/omm/android/agent"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/enroll/scep/sceptest"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/profile"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/sqlite"
)

// The route matrix: every pattern the server's router registers, with the
// access class that guards it and requests that exercise it. For every
// route and method the test proves: the caller's own org is served; a
// resource of the other org is neither read nor written (403/404, and the
// other org's stored state is unchanged); no credentials are refused (401
// or a redirect to sign-in); every wrong kind of credential is refused;
// and a batch that mixes orgs is refused whole, with nothing stored.
// A registered pattern without an entry fails the test, and so does an
// entry whose pattern is no longer registered.

// access is who may call a route.
type access string

const (
	accessPublic  access = "public"         // anyone: health, static files, sign-in pages
	accessDevice  access = "device"         // an Apple device's SCEP identity (TLS client certificate)
	accessEnroll  access = "enroll-ticket"  // an enrollment ticket (SCEP challenge, OTA/profile token)
	accessAndroid access = "android-device" // an Android agent's device credential (bearer)
	accessAgent   access = "agent-session"  // an end user's session token (bearer)
	accessAdmin   access = "admin-token"    // the admin token (bearer)
	accessWeb     access = "web-session"    // the user's session cookie, and the CSRF token on posts
	accessConsole access = "console"        // the console session cookie, and the CSRF token on posts
)

// cred is a credential a request presents.
type cred string

const (
	credNone          cred = "none"
	credDevice        cred = "apple device certificate"
	credAndroid       cred = "android device credential"
	credAgent         cred = "user session (bearer)"
	credAdmin         cred = "admin token (bearer)"
	credWeb           cred = "user session cookie + CSRF"
	credConsole       cred = "admin cookie + CSRF"
	credOtherOrgAgent cred = "other org's user session (bearer)"
	credPre           cred = "pre-session cookie + CSRF"
	// credForged is behind a proxy only: the device's own certificate in
	// the proxy's header, sent straight to the server from an address
	// that is not the proxy's.
	credForged cred = "apple device certificate in the proxy header, not from the proxy"
)

// ownCred is the credential each class accepts; wrongCreds the ones it
// must refuse.
var (
	ownCred = map[access]cred{
		accessPublic: credNone, accessDevice: credDevice, accessEnroll: credNone, accessAndroid: credAndroid,
		accessAgent: credAgent, accessAdmin: credAdmin, accessWeb: credWeb, accessConsole: credConsole,
	}
	wrongCreds = map[access][]cred{
		accessDevice:  {credAgent, credAdmin, credAndroid},
		accessAndroid: {credAgent, credAdmin, credDevice, credWeb},
		accessAgent:   {credAdmin, credAndroid, credDevice, credWeb, credConsole},
		accessAdmin:   {credAgent, credAndroid, credDevice, credWeb, credConsole},
		accessWeb:     {credAgent, credAdmin, credConsole, credDevice},
		accessConsole: {credAgent, credAdmin, credWeb, credDevice},
	}
)

// mxReq is one request of the matrix.
type mxReq struct {
	method, path string
	json         any        // JSON body
	form         url.Values // form body (CSRF added for the web classes)
	plist        any        // plist body (MDM)
	raw          []byte     // raw body
	// token replaces the world's user session (agent and web classes).
	token string
}

// mxProbe exercises one method of a route.
type mxProbe struct {
	// own is the request on the caller's own org, answered with one of
	// want (default 200).
	own  func(m *mxWorld) mxReq
	want []int
	// other names a resource of the other org; nil when the route names
	// none (then why says how isolation holds, and the answers of own and
	// the anonymous requests are still checked for the other org's data).
	other func(m *mxWorld) mxReq
	why   string
	// batch mixes the two orgs' resources in one request, refused whole.
	batch func(m *mxWorld) mxReq
	// as is the credential of the own request when not the class's
	// (the sign-in forms' pre-session).
	as cred
	// wantBody must be in the own answer when set.
	wantBody string
	// otherRefused judges the answer to other when a refusal is not a
	// status (SCEP answers failures in a 200 reply).
	otherRefused func(m *mxWorld, status int, body []byte) bool
}

// mxRoute is the matrix entry of one registered pattern.
type mxRoute struct {
	pattern string
	access  access
	probes  []mxProbe
}

func statuses(codes ...int) []int { return codes }

// routeMatrix lists every pattern the router registers.
func routeMatrix() []mxRoute {
	demo := string(demoOrg.ID)
	get := func(path string) func(*mxWorld) mxReq {
		return func(*mxWorld) mxReq { return mxReq{method: "GET", path: path} }
	}
	noOrgResource := "the route names no resource; the caller's org comes from its credential"
	return []mxRoute{
		{"GET /healthz", accessPublic, []mxProbe{{own: get("/healthz")}}},
		{"GET /readyz", accessPublic, []mxProbe{{own: get("/readyz")}}},
		{"GET /{$}", accessPublic, []mxProbe{{own: get("/")}}},
		{"GET /static/", accessPublic, []mxProbe{{own: get("/static/style.css")}}},

		// Devices.
		{"PUT /mdm/{org}/server", accessDevice, []mxProbe{
			{own: func(m *mxWorld) mxReq {
				return mxReq{method: "PUT", path: "/mdm/" + demo + "/server", plist: map[string]any{"UDID": m.apple.udid, "Status": "Idle"}}
			}, other: func(m *mxWorld) mxReq {
				return mxReq{method: "PUT", path: "/mdm/" + string(m.otherOrg) + "/server", plist: map[string]any{"UDID": m.apple.udid, "Status": "Idle"}}
			}},
		}},
		{"PUT /mdm/{org}/checkin", accessDevice, []mxProbe{
			{own: func(m *mxWorld) mxReq {
				return mxReq{method: "PUT", path: "/mdm/" + demo + "/checkin", plist: map[string]any{"UDID": m.apple.udid,
					"MessageType": "TokenUpdate", "Topic": m.apple.mdm.Topic, "Token": []byte{1, 2, 3, 4}, "PushMagic": "magic"}}
			}, other: func(m *mxWorld) mxReq {
				return mxReq{method: "PUT", path: "/mdm/" + string(m.otherOrg) + "/checkin", plist: map[string]any{"UDID": m.apple.udid,
					"MessageType": "TokenUpdate", "Topic": m.apple.mdm.Topic, "Token": []byte{1, 2, 3, 4}, "PushMagic": "magic"}}
			}},
		}},
		{"GET /mdm/{org}/declarative/{device}/{secret}/settings.mobileconfig", accessEnroll, []mxProbe{{
			// The path's secret is the ticket: the device learns it with
			// its declarations, over its MDM identity.
			own: func(m *mxWorld) mxReq { return mxReq{method: "GET", path: m.settingsProfile} },
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "GET", path: strings.Replace(m.settingsProfile, "/mdm/"+demo+"/", "/mdm/"+string(m.otherOrg)+"/", 1)}
			},
		}}},
		{"/scep/{org}", accessEnroll, []mxProbe{
			// The CA's certificate and capabilities are public by the
			// protocol; issuing needs the org's challenge.
			{own: get("/scep/" + demo + "?operation=GetCACaps"), why: "the capabilities are the same for every org"},
			{own: get("/scep/" + demo + "?operation=GetCACert"),
				other: get("/scep/org_nonexistent?operation=GetCACert"),
				why:   "an org's CA certificate is public by the protocol; an unknown org has none (and none is created)"},
			{own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/scep/" + demo + "?operation=PKIOperation", raw: []byte("not a PKI message")}
			}, want: statuses(400),
				other: func(m *mxWorld) mxReq {
					return mxReq{method: "POST", path: "/scep/" + string(m.otherOrg) + "?operation=PKIOperation", raw: m.scepRequest}
				},
				// The demo org's challenge at the other org's CA: SCEP
				// answers a failure in a 200 reply; no certificate is issued.
				otherRefused: func(m *mxWorld, status int, body []byte) bool {
					if status != 200 {
						return status >= 400 && status < 500
					}
					_, err := m.scepPending.Read(body, m.otherCA)
					return err != nil
				}},
			{own: get("/scep/" + demo + "?operation=GetCACaps"),
				other: func(m *mxWorld) mxReq {
					return mxReq{method: "POST", path: "/scep/" + string(m.otherOrg) + "?operation=PKIOperation", raw: m.renewalRequest}
				},
				// The demo iPhone's renewal challenge (in the renewal
				// profile queued for it) at the other org's CA: refused.
				why: "a renewal challenge belongs to one device of one org",
				otherRefused: func(m *mxWorld, status int, body []byte) bool {
					if status != 200 {
						return status >= 400 && status < 500
					}
					_, err := m.renewalPending.Read(body, m.otherCA)
					return err != nil
				}},
		}},
		{"GET /enroll/{org}/profile", accessEnroll, []mxProbe{{
			own: func(m *mxWorld) mxReq { return mxReq{method: "GET", path: m.otaPath("/enroll/" + demo + "/profile")} },
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "GET", path: m.otaPath("/enroll/" + string(m.otherOrg) + "/profile")}
			},
		}}},
		{"POST /enroll/{org}/ota", accessEnroll, []mxProbe{{
			// A well-formed phase-2 message needs a CMS signed by an Apple
			// device certificate, which a test cannot make: the own request
			// only shows the route answers a ticket holder.
			own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: m.otaPath("/enroll/" + demo + "/ota"), raw: []byte("not CMS")}
			}, want: statuses(400, 403),
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: m.otaPath("/enroll/" + string(m.otherOrg) + "/ota"), raw: []byte("not CMS")}
			},
		}}},
		{"GET /enroll/{org}/mobileconfig", accessEnroll, []mxProbe{{
			own: func(m *mxWorld) mxReq { return mxReq{method: "GET", path: m.directPath(demo)} },
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "GET", path: m.directPath(string(m.otherOrg))}
			},
		}}},

		// Agent app: sign-in and session steps.
		{"/api/agent/auth/", accessAgent, []mxProbe{
			{own: get("/api/agent/auth/session"), why: noOrgResource},
			{own: func(*mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/agent/auth/pin/verify", json: map[string]string{"pin": "4829"}}
			},
				why: noOrgResource},
			{own: func(*mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/agent/auth/pin", json: map[string]string{"pin": "5817", "confirm": "5817"}}
			}, why: noOrgResource},
			{own: func(*mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/agent/auth/mfa/send", json: map[string]string{"channel": "sms"}}
			},
				want: statuses(409, 400), why: noOrgResource},
			{own: func(*mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/agent/auth/mfa/verify", json: map[string]string{"method": "totp", "code": "123456"}}
			}, want: statuses(409, 400), why: noOrgResource},
			{own: func(*mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/agent/auth/mfa/totp/enroll", json: map[string]string{}}
			}, why: noOrgResource},
			// A wrong code: the session was accepted, the code was not.
			{own: func(*mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/agent/auth/mfa/totp/confirm", json: map[string]string{"code": "000000"}}
			}, want: statuses(401), wantBody: "invalid_code", why: noOrgResource},
			{own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/agent/auth/signout", json: map[string]string{}, token: m.agentSignIn(m.t, "alice")}
			}, want: statuses(200, 204), why: noOrgResource},
		}},
		{"POST /api/agent/eligibility", accessAgent, []mxProbe{{own: func(*mxWorld) mxReq {
			return mxReq{method: "POST", path: "/api/agent/eligibility", json: deviceFacts{Platform: "ios", OSVersion: "17.4"}}
		}, why: noOrgResource}}},
		{"POST /api/agent/enroll", accessAgent, []mxProbe{{own: func(*mxWorld) mxReq {
			return mxReq{method: "POST", path: "/api/agent/enroll", json: enrollRequest{Facts: deviceFacts{Platform: "ios", OSVersion: "17.4"}}}
		}, why: noOrgResource}}},
		{"GET /api/agent/devices", accessAgent, []mxProbe{{own: get("/api/agent/devices"), why: "lists the caller's own devices"}}},
		{"GET /api/agent/devices/{id}/report", accessAgent, []mxProbe{{
			own: func(m *mxWorld) mxReq {
				return mxReq{method: "GET", path: "/api/agent/devices/" + m.aliceDev + "/report"}
			},
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "GET", path: "/api/agent/devices/" + m.otherDev + "/report"}
			},
		}}},
		{"POST /api/agent/devices/{id}/deprovision", accessAgent, []mxProbe{{
			own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/agent/devices/" + m.spare() + "/deprovision"}
			},
			want: statuses(202),
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/agent/devices/" + m.otherDev + "/deprovision"}
			},
		}}},
		{"POST /api/agent/devices/{id}/erase", accessAgent, []mxProbe{{
			// 403 when the policy allows no full wipe: the device's own check.
			own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/agent/devices/" + m.spare() + "/erase"}
			},
			want: statuses(202, 403),
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/agent/devices/" + m.otherDev + "/erase"}
			},
		}}},
		{"/api/agent/store/", accessAgent, []mxProbe{
			{own: func(m *mxWorld) mxReq {
				return mxReq{method: "GET", path: "/api/agent/store/devices/" + m.aliceDev + "/apps"}
			},
				other: func(m *mxWorld) mxReq {
					return mxReq{method: "GET", path: "/api/agent/store/devices/" + m.otherDev + "/apps"}
				}},
			{own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/agent/store/devices/" + m.spare() + "/apps/" + m.demoApps[demoExpenses] + "/install"}
			}, want: statuses(200, 202),
				other: func(m *mxWorld) mxReq {
					return mxReq{method: "POST", path: "/api/agent/store/devices/" + m.aliceDev + "/apps/" + m.otherApps[demoExpenses] + "/install"}
				}},
			{own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/agent/store/devices/" + m.aliceDev + "/apps/" + m.demoApps[demoExpenses] + "/uninstall"}
			}, want: statuses(200, 202, 409),
				other: func(m *mxWorld) mxReq {
					return mxReq{method: "POST", path: "/api/agent/store/devices/" + m.otherDev + "/apps/" + m.otherApps[demoExpenses] + "/uninstall"}
				}},
		}},
		{"POST /api/agent/android/enroll", accessAgent, []mxProbe{{own: func(*mxWorld) mxReq {
			return mxReq{method: "POST", path: "/api/agent/android/enroll", json: androidFacts}
		}, why: noOrgResource}}},
		{"POST /api/agent/android/devices/{id}/credential", accessAgent, []mxProbe{{
			// The matrix's Android device enrolled through the agent (device
			// admin), which has its credential already: 409 is its own check.
			own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/agent/android/devices/" + m.androidDev + "/credential"}
			}, want: statuses(200, 403, 409),
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/agent/android/devices/" + m.otherDev + "/credential"}
			},
		}}},
		{"/amapi-fake/", accessEnroll, []mxProbe{
			// The local stand-in for Google's Android Management API: an
			// enrollment token or device secret names the device.
			{own: func(*mxWorld) mxReq {
				return mxReq{method: "POST", path: "/amapi-fake/enroll", json: map[string]string{}}
			}, want: statuses(400, 404), why: "an unknown enrollment token is refused"},
			{own: get("/amapi-fake/device"), want: statuses(404), why: "an unknown device secret is refused"},
		}},
		{"POST /api/agent/android/enroll.png", accessAgent, []mxProbe{{own: func(*mxWorld) mxReq {
			return mxReq{method: "POST", path: "/api/agent/android/enroll.png", json: androidFacts}
		}, why: noOrgResource}}},

		// Android agent protocol.
		{"/android/agent/", accessAndroid, []mxProbe{
			{own: get("/android/agent/policy?api_level=28"), why: "the credential names the device"},
			{own: get("/android/agent/commands"), why: "the credential names the device"},
			{own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/android/agent/commands/ack", json: agent.AckRequest{ID: "cmd_none", Status: "done"}}
			}, want: statuses(404),
				why: "an acknowledgement names a command; one that is not the device's own is not found (as the own probe shows)"},
		}},

		{"POST /android/agent/status", accessAndroid, []mxProbe{{own: func(*mxWorld) mxReq {
			return mxReq{method: "POST", path: "/android/agent/status", raw: []byte(androidStatus)}
		}, why: "the credential names the device; the report decides again for that device only"}}},
		{"GET /android/agent", accessPublic, []mxProbe{{own: get("/android/agent?token=whatever"), wantBody: "OMM agent app"}}},

		// Admin API.
		{"GET /api/admin/orgs", accessAdmin, []mxProbe{{own: get("/api/admin/orgs"), why: "lists the token's org only"}}},
		{"GET /api/admin/orgs/{org}", accessAdmin, []mxProbe{{own: get("/api/admin/orgs/" + demo),
			other: func(m *mxWorld) mxReq { return mxReq{method: "GET", path: "/api/admin/orgs/" + string(m.otherOrg)} }}}},
		{"GET /api/admin/users", accessAdmin, []mxProbe{{own: get("/api/admin/users"), why: "lists the token's org only"}}},
		{"POST /api/admin/users", accessAdmin, []mxProbe{{own: func(m *mxWorld) mxReq {
			return mxReq{method: "POST", path: "/api/admin/users", json: map[string]string{"username": m.unique("user"), "display_name": "New",
				"password": "a-long-enough-password-1"}}
		}, want: statuses(201), why: "creates in the token's org; the body has no org"}}},
		{"POST /api/admin/users/{id}/deactivate", accessAdmin, []mxProbe{{
			own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/admin/users/" + m.demoUsers["carol"] + "/deactivate"}
			},
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/admin/users/" + m.otherUsers["alice"] + "/deactivate"}
			},
		}}},
		{"GET /api/admin/groups", accessAdmin, []mxProbe{{own: get("/api/admin/groups"), why: "lists the token's org only"}}},
		{"POST /api/admin/groups", accessAdmin, []mxProbe{{own: func(m *mxWorld) mxReq {
			return mxReq{method: "POST", path: "/api/admin/groups", json: map[string]string{"name": m.unique("group")}}
		}, want: statuses(201), why: "creates in the token's org; the body has no org"}}},
		{"POST /api/admin/groups/{id}/members", accessAdmin, []mxProbe{{
			own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/admin/groups/" + m.demoGroups["Contractors"] + "/members", json: map[string]string{"user_id": m.demoUsers["alice"]}}
			}, want: statuses(204),
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/admin/groups/" + m.otherGroups["Contractors"] + "/members", json: map[string]string{"user_id": m.otherUsers["alice"]}}
			},
			// The demo group with the other org's user.
			batch: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/admin/groups/" + m.demoGroups["Contractors"] + "/members", json: map[string]string{"user_id": m.otherUsers["bob"]}}
			},
		}}},
		{"DELETE /api/admin/groups/{id}/members/{user}", accessAdmin, []mxProbe{{
			own: func(m *mxWorld) mxReq {
				mustStatus(m.t, 204)(m.do(m.t, "POST", "/api/admin/groups/"+m.demoGroups["Employees"]+"/members", m.first.adminToken,
					map[string]string{"user_id": m.demoUsers["carol"]}))
				return mxReq{method: "DELETE", path: "/api/admin/groups/" + m.demoGroups["Employees"] + "/members/" + m.demoUsers["carol"]}
			}, want: statuses(204),
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "DELETE", path: "/api/admin/groups/" + m.otherGroups["Employees"] + "/members/" + m.otherUsers["alice"]}
			},
			batch: func(m *mxWorld) mxReq {
				return mxReq{method: "DELETE", path: "/api/admin/groups/" + m.demoGroups["Employees"] + "/members/" + m.otherUsers["alice"]}
			},
		}}},
		{"GET /api/admin/signon", accessAdmin, []mxProbe{{own: get("/api/admin/signon"), why: "the token's org's rule"}}},
		{"PUT /api/admin/signon", accessAdmin, []mxProbe{{own: func(m *mxWorld) mxReq {
			cur := must[struct{ Version int64 }](m.t, 200)(m.do(m.t, "GET", "/api/admin/signon", m.first.adminToken, nil))
			return mxReq{method: "PUT", path: "/api/admin/signon", json: map[string]any{"mfa_required": false, "version": cur.Version}}
		}, why: "changes the token's org's rule; the body has no org"}}},
		{"POST /api/admin/users/{id}/mfa/reset", accessAdmin, []mxProbe{{
			own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/admin/users/" + m.demoUsers["bob"] + "/mfa/reset"}
			}, want: statuses(204, 404),
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/admin/users/" + m.otherUsers["alice"] + "/mfa/reset"}
			},
		}}},
		{"GET /api/admin/policies", accessAdmin, []mxProbe{{own: get("/api/admin/policies"), why: "lists the token's org only"}}},
		{"POST /api/admin/policies", accessAdmin, []mxProbe{{
			own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/admin/policies", json: m.policyBody(m.unique("policy"), m.demoGroups["Contractors"])}
			}, want: statuses(201), why: "creates in the token's org; the body has no org",
			batch: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/admin/policies", json: m.policyBody(m.unique("policy"), m.demoGroups["Contractors"], m.otherGroups["Contractors"])}
			},
		}}},
		{"GET /api/admin/policies/{id}", accessAdmin, []mxProbe{{
			own: func(m *mxWorld) mxReq {
				return mxReq{method: "GET", path: "/api/admin/policies/" + string(m.demoPolicy)}
			},
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "GET", path: "/api/admin/policies/" + string(m.otherPolicy)}
			},
		}}},
		{"PUT /api/admin/policies/{id}", accessAdmin, []mxProbe{{
			own: func(m *mxWorld) mxReq {
				p := m.currentPolicy(m.demoPolicy)
				p.Description = m.unique("edited")
				return mxReq{method: "PUT", path: "/api/admin/policies/" + string(p.ID), json: p}
			},
			other: func(m *mxWorld) mxReq {
				p := m.currentPolicy(m.demoPolicy)
				p.ID, p.Version = m.otherPolicy, 1
				return mxReq{method: "PUT", path: "/api/admin/policies/" + string(m.otherPolicy), json: p}
			},
			batch: func(m *mxWorld) mxReq {
				p := m.currentPolicy(m.demoPolicy)
				p.Groups = append(p.Groups, m.otherGroups["Employees"])
				return mxReq{method: "PUT", path: "/api/admin/policies/" + string(p.ID), json: p}
			},
		}}},
		{"DELETE /api/admin/policies/{id}", accessAdmin, []mxProbe{{
			own: func(m *mxWorld) mxReq {
				p := m.createPolicy(m.unique("doomed"))
				return mxReq{method: "DELETE", path: fmt.Sprintf("/api/admin/policies/%s?version=%d", p.ID, p.Version)}
			}, want: statuses(204),
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "DELETE", path: "/api/admin/policies/" + string(m.otherPolicy) + "?version=1"}
			},
		}}},
		{"GET /api/admin/devices", accessAdmin, []mxProbe{{own: get("/api/admin/devices"),
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "GET", path: "/api/admin/devices?user=" + m.otherUsers["alice"]}
			},
			why: "a filter naming the other org's user yields nothing of it"}}},
		{"GET /api/admin/devices/{id}", accessAdmin, []mxProbe{{
			own:   func(m *mxWorld) mxReq { return mxReq{method: "GET", path: "/api/admin/devices/" + m.aliceDev} },
			other: func(m *mxWorld) mxReq { return mxReq{method: "GET", path: "/api/admin/devices/" + m.otherDev} },
		}}},
		{"POST /api/admin/devices/{id}/{action}", accessAdmin, m4(func(action string, want []int) mxProbe {
			return mxProbe{
				own: func(m *mxWorld) mxReq {
					return mxReq{method: "POST", path: "/api/admin/devices/" + m.spare() + "/" + action}
				},
				want: want,
				other: func(m *mxWorld) mxReq {
					return mxReq{method: "POST", path: "/api/admin/devices/" + m.otherDev + "/" + action}
				},
			}
		})},
		{"POST /api/admin/devices/refresh", accessAdmin, []mxProbe{{
			own:  func(m *mxWorld) mxReq { return mxReq{method: "POST", path: "/api/admin/devices/refresh"} },
			want: statuses(202),
			why:  "queues to the token's org's devices only (checkin.TestRefreshAll)"}}},
		{"GET /api/admin/audit", accessAdmin, []mxProbe{{own: get("/api/admin/audit"), why: "lists the token's org only"}}},
		{"GET /api/admin/events", accessAdmin, []mxProbe{
			{own: get("/api/admin/events"), why: "lists the token's org only"},
			{own: func(m *mxWorld) mxReq { return mxReq{method: "GET", path: "/api/admin/events?device=" + m.otherDev} },
				why: "another org's device: the token's org has no events of it"},
		}},
		{"GET /api/admin/renewals", accessAdmin, []mxProbe{{own: get("/api/admin/renewals"), why: "lists the token's org only"}}},
		{"POST /api/admin/enrollment-profiles", accessAdmin, []mxProbe{{
			own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/admin/enrollment-profiles", json: map[string]any{"user_id": m.demoUsers["alice"],
					"platform": "ios", "count": 2, "valid_for": "24h"}}
			}, want: statuses(201),
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/admin/enrollment-profiles", json: map[string]any{"user_id": m.otherUsers["alice"],
					"platform": "ios"}}
			},
		}}},
		{"DELETE /api/admin/enrollment-profiles/{id}", accessAdmin, []mxProbe{{
			own: func(m *mxWorld) mxReq {
				return mxReq{method: "DELETE", path: "/api/admin/enrollment-profiles/" + mxIssuedProfile(m)}
			}, want: statuses(204),
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "DELETE", path: "/api/admin/enrollment-profiles/" + m.otherSession}
			},
		}}},
		{"GET /api/admin/credentials", accessAdmin, []mxProbe{{own: get("/api/admin/credentials"),
			why: "the deployment's certificates: the same for every org, no org's data"}}},
		{"/api/admin/", accessAdmin, []mxProbe{
			// No route edits or removes audit entries: every other method
			// on the audit log is refused, and the log is unchanged.
			{own: func(*mxWorld) mxReq { return mxReq{method: "DELETE", path: "/api/admin/audit"} }, want: statuses(404, 405), why: noOrgResource},
			{own: func(*mxWorld) mxReq { return mxReq{method: "PUT", path: "/api/admin/audit", json: map[string]string{}} }, want: statuses(404, 405), why: noOrgResource},
			{own: func(*mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/admin/audit", json: map[string]string{}}
			}, want: statuses(404, 405), why: noOrgResource},
			{own: func(*mxWorld) mxReq { return mxReq{method: "DELETE", path: "/api/admin/audit/1"} }, want: statuses(404, 405), why: noOrgResource},
			{own: func(*mxWorld) mxReq {
				return mxReq{method: "PATCH", path: "/api/admin/audit/1", json: map[string]string{}}
			}, want: statuses(404, 405), why: noOrgResource},
		}},
		{"/api/admin/apps", accessAdmin, []mxProbe{
			{own: get("/api/admin/apps"), why: "lists the token's org only"},
			{own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/admin/apps", json: map[string]any{"kind": "ios_app_store", "identifier": "com.example." + m.unique("app"),
					"store_id": 42, "name": "New app"}}
			}, want: statuses(201), why: "creates in the token's org; the body has no org"},
		}},
		{"/api/admin/apps/", accessAdmin, []mxProbe{
			{own: func(m *mxWorld) mxReq { return mxReq{method: "GET", path: "/api/admin/apps/" + m.demoApps[demoNotes]} },
				other: func(m *mxWorld) mxReq { return mxReq{method: "GET", path: "/api/admin/apps/" + m.otherApps[demoNotes]} }},
			{own: func(m *mxWorld) mxReq {
				a := m.currentApp(m.demoApps[demoChat])
				a["description"] = m.unique("edited")
				return mxReq{method: "PUT", path: "/api/admin/apps/" + m.demoApps[demoChat], json: a}
			}, other: func(m *mxWorld) mxReq {
				a := m.currentApp(m.demoApps[demoChat])
				a["id"], a["version"] = m.otherApps[demoChat], 1
				return mxReq{method: "PUT", path: "/api/admin/apps/" + m.otherApps[demoChat], json: a}
			}},
			{own: func(m *mxWorld) mxReq {
				id, version := m.createApp()
				return mxReq{method: "DELETE", path: fmt.Sprintf("/api/admin/apps/%s?version=%d", id, version)}
			}, want: statuses(204),
				other: func(m *mxWorld) mxReq {
					return mxReq{method: "DELETE", path: "/api/admin/apps/" + m.otherApps[demoChat] + "?version=1"}
				}},
			{own: func(m *mxWorld) mxReq {
				return mxReq{method: "GET", path: "/api/admin/apps/" + m.demoApps[demoNotes] + "/assignments"}
			},
				other: func(m *mxWorld) mxReq {
					return mxReq{method: "GET", path: "/api/admin/apps/" + m.otherApps[demoNotes] + "/assignments"}
				}},
			{own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/api/admin/apps/" + m.demoApps[demoChat] + "/assignments",
					json: map[string]string{"group": m.demoGroups["Contractors"], "mode": "available"}}
			}, want: statuses(200, 201),
				other: func(m *mxWorld) mxReq {
					return mxReq{method: "POST", path: "/api/admin/apps/" + m.otherApps[demoChat] + "/assignments",
						json: map[string]string{"group": m.otherGroups["Contractors"], "mode": "available"}}
				},
				// The demo app assigned to the other org's group.
				batch: func(m *mxWorld) mxReq {
					return mxReq{method: "POST", path: "/api/admin/apps/" + m.demoApps[demoNotes] + "/assignments",
						json: map[string]string{"group": m.otherGroups["Employees"], "mode": "available"}}
				}},
			{own: func(m *mxWorld) mxReq {
				return mxReq{method: "PUT", path: "/api/admin/apps/" + m.demoApps[demoChat] + "/assignments/" + m.demoGroups["Contractors"],
					json: map[string]any{"mode": "install", "version": m.assignmentVersion(m.demoApps[demoChat], m.demoGroups["Contractors"])}}
			}, want: statuses(200),
				other: func(m *mxWorld) mxReq {
					return mxReq{method: "PUT", path: "/api/admin/apps/" + m.otherApps[demoExpenses] + "/assignments/" + m.otherGroups["Employees"],
						json: map[string]any{"mode": "install", "version": 1}}
				}},
			{own: func(m *mxWorld) mxReq {
				return mxReq{method: "DELETE", path: "/api/admin/apps/" + m.demoApps[demoChat] + "/assignments/" + m.demoGroups["Contractors"]}
			}, want: statuses(200, 204),
				other: func(m *mxWorld) mxReq {
					return mxReq{method: "DELETE", path: "/api/admin/apps/" + m.otherApps[demoExpenses] + "/assignments/" + m.otherGroups["Employees"]}
				}},
		}},

		// Web portal.
		{"GET /signin", accessPublic, []mxProbe{{own: get("/signin")}}},
		{"POST /signin", accessPublic, []mxProbe{{
			// Sign-in names the org by its site name: the other org's user
			// cannot sign in to the demo site, nor a demo user to the other.
			own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/signin", form: url.Values{"site": {"demo"}, "username": {"bob"}, "password": {m.first.passwords["bob"]}}}
			}, want: statuses(303), as: credPre,
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/signin", form: url.Values{"site": {"demo"}, "username": {"carol"}, "password": {m.otherPasswords["carol"]}}}
			},
		}}},
		{"GET /signin/mfa", accessPublic, []mxProbe{{own: get("/signin/mfa"), want: statuses(303)}}},
		{"POST /signin/mfa", accessPublic, []mxProbe{{own: func(*mxWorld) mxReq {
			return mxReq{method: "POST", path: "/signin/mfa", form: url.Values{"code": {"123456"}}}
		}, want: statuses(403)}}},
		{"POST /signin/mfa/send", accessPublic, []mxProbe{{own: func(*mxWorld) mxReq {
			return mxReq{method: "POST", path: "/signin/mfa/send", form: url.Values{"channel": {"sms"}}}
		}, want: statuses(403)}}},
		{"POST /signin/mfa/enroll", accessPublic, []mxProbe{{own: func(*mxWorld) mxReq {
			return mxReq{method: "POST", path: "/signin/mfa/enroll", form: url.Values{}}
		}, want: statuses(403)}}},
		{"POST /signin/mfa/confirm", accessPublic, []mxProbe{{own: func(*mxWorld) mxReq {
			return mxReq{method: "POST", path: "/signin/mfa/confirm", form: url.Values{"code": {"123456"}}}
		}, want: statuses(403)}}},
		{"GET /signin/pin", accessPublic, []mxProbe{{own: get("/signin/pin"), want: statuses(303)}}},
		{"POST /signin/pin", accessPublic, []mxProbe{{own: func(*mxWorld) mxReq {
			return mxReq{method: "POST", path: "/signin/pin", form: url.Values{"pin": {"4829"}}}
		}, want: statuses(403)}}},
		{"POST /signout", accessPublic, []mxProbe{{own: func(*mxWorld) mxReq { return mxReq{method: "POST", path: "/signout", form: url.Values{}} },
			want: statuses(403)}}},
		{"GET /portal", accessWeb, []mxProbe{{own: get("/portal"), why: "shows the caller's own devices"}}},
		{"GET /portal/security", accessWeb, []mxProbe{{own: get("/portal/security"), why: "shows the caller's own factors"}}},
		{"POST /portal/security/totp", accessWeb, []mxProbe{{own: func(*mxWorld) mxReq {
			return mxReq{method: "POST", path: "/portal/security/totp", form: url.Values{}}
		}, want: statuses(200, 409), why: "sets up the caller's own factor"}}},
		{"POST /portal/security/totp/confirm", accessWeb, []mxProbe{{own: func(*mxWorld) mxReq {
			return mxReq{method: "POST", path: "/portal/security/totp/confirm", form: url.Values{"code": {"000000"}}}
		}, want: statuses(401, 409), why: "confirms the caller's own factor"}}},
		{"POST /portal/eligibility", accessWeb, []mxProbe{{own: func(*mxWorld) mxReq {
			return mxReq{method: "POST", path: "/portal/eligibility", form: url.Values{"platform": {"ios"}, "ownership": {"personal"}}}
		}, why: noOrgResource}}},
		{"POST /portal/enroll", accessWeb, []mxProbe{{own: func(*mxWorld) mxReq {
			return mxReq{method: "POST", path: "/portal/enroll", form: url.Values{"platform": {"ios"}, "ownership": {"personal"}, "agree": {"on"}}}
		}, why: noOrgResource}}},
		{"POST /portal/android/enroll", accessWeb, []mxProbe{{own: func(*mxWorld) mxReq {
			return mxReq{method: "POST", path: "/portal/android/enroll", form: url.Values{"platform": {"android"}, "ownership": {"personal"}, "agree": {"on"}}}
		}, why: noOrgResource}}},
		{"GET /portal/devices/{id}", accessWeb, []mxProbe{{
			own:   func(m *mxWorld) mxReq { return mxReq{method: "GET", path: "/portal/devices/" + m.aliceDev} },
			other: func(m *mxWorld) mxReq { return mxReq{method: "GET", path: "/portal/devices/" + m.otherDev} },
		}}},
		{"POST /portal/devices/{id}/deprovision", accessWeb, []mxProbe{{
			own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/portal/devices/" + m.spare() + "/deprovision", form: url.Values{"confirm": {"on"}}}
			},
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/portal/devices/" + m.otherDev + "/deprovision", form: url.Values{"confirm": {"on"}}}
			},
		}}},
		{"POST /portal/devices/{id}/erase", accessWeb, []mxProbe{{
			own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/portal/devices/" + m.spare() + "/erase", form: url.Values{"confirm": {"on"}}}
			},
			want: statuses(200, 403),
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/portal/devices/" + m.otherDev + "/erase", form: url.Values{"confirm": {"on"}}}
			},
		}}},
		{"POST /portal/devices/{id}/store/{app}/uninstall", accessWeb, []mxProbe{{
			own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/portal/devices/" + m.aliceDev + "/store/" + m.demoApps[demoNotes] + "/uninstall", form: url.Values{}}
			}, want: statuses(200, 409),
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/portal/devices/" + m.otherDev + "/store/" + m.otherApps[demoNotes] + "/uninstall", form: url.Values{}}
			},
		}}},
		{"GET /portal/devices/{id}/store", accessWeb, []mxProbe{{
			own:   func(m *mxWorld) mxReq { return mxReq{method: "GET", path: "/portal/devices/" + m.aliceDev + "/store"} },
			other: func(m *mxWorld) mxReq { return mxReq{method: "GET", path: "/portal/devices/" + m.otherDev + "/store"} },
		}}},
		{"POST /portal/devices/{id}/store/{app}/install", accessWeb, []mxProbe{{
			own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/portal/devices/" + m.spare() + "/store/" + m.demoApps[demoExpenses] + "/install", form: url.Values{}}
			},
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/portal/devices/" + m.aliceDev + "/store/" + m.otherApps[demoExpenses] + "/install", form: url.Values{}}
			},
		}}},

		// Admin console.
		{"GET /admin", accessPublic, []mxProbe{{own: get("/admin")}}},
		{"POST /admin/signin", accessPublic, []mxProbe{{own: func(m *mxWorld) mxReq {
			return mxReq{method: "POST", path: "/admin/signin", form: url.Values{"token": {m.first.adminToken}}}
		}, want: statuses(303), as: credPre}}},
		{"POST /admin/signout", accessConsole, []mxProbe{{own: func(*mxWorld) mxReq { return mxReq{method: "POST", path: "/admin/signout", form: url.Values{}} },
			want: statuses(303), why: noOrgResource}}},
		{"GET /admin/token", accessConsole, []mxProbe{{own: get("/admin/token"), why: noOrgResource}}},
		{"GET /admin/credentials", accessConsole, []mxProbe{{own: get("/admin/credentials"),
			why: "the deployment's certificates, and the renewals of the session's org only"}}},
		// The matrix keeps its admin token: a wrong current token is
		// refused (the rotation itself: TestConsoleSessionsAndTokenRotation).
		{"POST /admin/token/rotate", accessConsole, []mxProbe{{own: func(*mxWorld) mxReq {
			return mxReq{method: "POST", path: "/admin/token/rotate", form: url.Values{"token": {"omm_admin_not-the-token"}}}
		}, want: statuses(401), wantBody: "not the current admin token", why: noOrgResource}}},
		{"GET /admin/devices", accessConsole, []mxProbe{{own: get("/admin/devices"), why: "lists the token's org only"}}},
		{"GET /admin/devices/{id}", accessConsole, []mxProbe{{
			own:   func(m *mxWorld) mxReq { return mxReq{method: "GET", path: "/admin/devices/" + m.aliceDev} },
			other: func(m *mxWorld) mxReq { return mxReq{method: "GET", path: "/admin/devices/" + m.otherDev} },
		}}},
		{"POST /admin/devices/{id}/{action}", accessConsole, m4(func(action string, want []int) mxProbe {
			return mxProbe{
				own: func(m *mxWorld) mxReq {
					return mxReq{method: "POST", path: "/admin/devices/" + m.spare() + "/" + action, form: url.Values{"confirm": {"on"}}}
				},
				want: statuses(303, 403),
				other: func(m *mxWorld) mxReq {
					return mxReq{method: "POST", path: "/admin/devices/" + m.otherDev + "/" + action, form: url.Values{"confirm": {"on"}}}
				},
			}
		})},
		{"GET /admin/users", accessConsole, []mxProbe{{own: get("/admin/users"), why: "lists the token's org only"}}},
		{"POST /admin/users/{id}/deactivate", accessConsole, []mxProbe{{
			own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/admin/users/" + m.demoUsers["carol"] + "/deactivate", form: url.Values{"confirm": {"on"}}}
			}, want: statuses(200),
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/admin/users/" + m.otherUsers["alice"] + "/deactivate", form: url.Values{"confirm": {"on"}}}
			},
		}}},
		{"POST /admin/users/{id}/mfa/reset", accessConsole, []mxProbe{{
			own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/admin/users/" + m.demoUsers["bob"] + "/mfa/reset", form: url.Values{"confirm": {"on"}}}
			}, want: statuses(200, 409),
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/admin/users/" + m.otherUsers["alice"] + "/mfa/reset", form: url.Values{"confirm": {"on"}}}
			},
		}}},
		{"GET /admin/groups", accessConsole, []mxProbe{{own: get("/admin/groups"), why: "lists the token's org only"}}},
		{"POST /admin/groups", accessConsole, []mxProbe{{own: func(m *mxWorld) mxReq {
			return mxReq{method: "POST", path: "/admin/groups", form: url.Values{"name": {m.unique("Console group")}}}
		}, want: statuses(303), why: "creates in the token's org; the form has no org"}}},
		{"POST /admin/groups/{id}/members", accessConsole, []mxProbe{{
			own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/admin/groups/" + m.demoGroups["Contractors"] + "/members", form: url.Values{"user_id": {m.demoUsers["bob"]}}}
			}, want: statuses(303),
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/admin/groups/" + m.otherGroups["Contractors"] + "/members", form: url.Values{"user_id": {m.otherUsers["bob"]}}}
			},
			batch: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/admin/groups/" + m.demoGroups["Contractors"] + "/members", form: url.Values{"user_id": {m.otherUsers["bob"]}}}
			},
		}}},
		{"POST /admin/groups/{id}/members/{user}/remove", accessConsole, []mxProbe{{
			own: func(m *mxWorld) mxReq {
				mustStatus(m.t, 204)(m.do(m.t, "POST", "/api/admin/groups/"+m.demoGroups["Employees"]+"/members", m.first.adminToken,
					map[string]string{"user_id": m.demoUsers["carol"]}))
				return mxReq{method: "POST", path: "/admin/groups/" + m.demoGroups["Employees"] + "/members/" + m.demoUsers["carol"] + "/remove", form: url.Values{}}
			}, want: statuses(303),
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/admin/groups/" + m.otherGroups["Employees"] + "/members/" + m.otherUsers["alice"] + "/remove", form: url.Values{}}
			},
			batch: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/admin/groups/" + m.demoGroups["Employees"] + "/members/" + m.otherUsers["alice"] + "/remove", form: url.Values{}}
			},
		}}},
		{"GET /admin/policies", accessConsole, []mxProbe{{own: get("/admin/policies"), why: "lists the token's org only"}}},
		{"GET /admin/policies/new", accessConsole, []mxProbe{{own: get("/admin/policies/new"), why: noOrgResource}}},
		{"POST /admin/policies", accessConsole, []mxProbe{{
			own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/admin/policies", form: m.policyForm(m.policyBody(m.unique("Console policy"), m.demoGroups["Contractors"]))}
			}, want: statuses(303), why: "creates in the token's org; the form has no org",
			batch: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/admin/policies", form: m.policyForm(m.policyBody(m.unique("Mixed"), m.demoGroups["Contractors"], m.otherGroups["Employees"]))}
			},
		}}},
		{"GET /admin/policies/{id}", accessConsole, []mxProbe{{
			own:   func(m *mxWorld) mxReq { return mxReq{method: "GET", path: "/admin/policies/" + string(m.demoPolicy)} },
			other: func(m *mxWorld) mxReq { return mxReq{method: "GET", path: "/admin/policies/" + string(m.otherPolicy)} },
		}}},
		{"POST /admin/policies/{id}", accessConsole, []mxProbe{{
			own: func(m *mxWorld) mxReq {
				p := m.currentPolicy(m.demoPolicy)
				p.Description = m.unique("edited in the console")
				return mxReq{method: "POST", path: "/admin/policies/" + string(p.ID), form: m.policyForm(p)}
			}, want: statuses(303),
			other: func(m *mxWorld) mxReq {
				p := m.currentPolicy(m.demoPolicy)
				p.Version = 1
				return mxReq{method: "POST", path: "/admin/policies/" + string(m.otherPolicy), form: m.policyForm(p)}
			},
			batch: func(m *mxWorld) mxReq {
				p := m.currentPolicy(m.demoPolicy)
				p.Groups = append(p.Groups, m.otherGroups["Employees"])
				return mxReq{method: "POST", path: "/admin/policies/" + string(p.ID), form: m.policyForm(p)}
			},
		}}},
		{"POST /admin/policies/{id}/delete", accessConsole, []mxProbe{{
			own: func(m *mxWorld) mxReq {
				p := m.createPolicy(m.unique("doomed in the console"))
				return mxReq{method: "POST", path: "/admin/policies/" + string(p.ID) + "/delete",
					form: url.Values{"confirm": {"on"}, "version": {fmt.Sprint(p.Version)}}}
			}, want: statuses(303),
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/admin/policies/" + string(m.otherPolicy) + "/delete", form: url.Values{"confirm": {"on"}, "version": {"1"}}}
			},
		}}},
		{"POST /admin/signon", accessConsole, []mxProbe{{own: func(m *mxWorld) mxReq {
			cur := must[struct{ Version int64 }](m.t, 200)(m.do(m.t, "GET", "/api/admin/signon", m.first.adminToken, nil))
			return mxReq{method: "POST", path: "/admin/signon", form: url.Values{"version": {fmt.Sprint(cur.Version)}}}
		}, want: statuses(303), why: "changes the token's org's rule; the form has no org"}}},
		{"GET /admin/apps", accessConsole, []mxProbe{{own: get("/admin/apps"), why: "lists the token's org only"}}},
		{"POST /admin/apps", accessConsole, []mxProbe{{own: func(m *mxWorld) mxReq {
			return mxReq{method: "POST", path: "/admin/apps", form: url.Values{"kind": {"ios_app_store"}, "identifier": {"com.example." + m.unique("console")},
				"name": {"Console app"}, "store_id": {"44"}}}
		}, want: statuses(303), why: "creates in the token's org; the form has no org"}}},
		{"POST /admin/apps/{id}/assignments", accessConsole, []mxProbe{{
			own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/admin/apps/" + m.demoApps[demoNotes] + "/assignments",
					form: url.Values{"group": {m.demoGroups["Contractors"]}, "mode": {"available"}}}
			}, want: statuses(303),
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/admin/apps/" + m.otherApps[demoNotes] + "/assignments",
					form: url.Values{"group": {m.otherGroups["Contractors"]}, "mode": {"available"}}}
			},
			batch: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/admin/apps/" + m.demoApps[demoChat] + "/assignments",
					form: url.Values{"group": {m.otherGroups["Contractors"]}, "mode": {"available"}}}
			},
		}}},
		{"POST /admin/apps/{id}/unassign", accessConsole, []mxProbe{{
			own: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/admin/apps/" + m.demoApps[demoNotes] + "/unassign",
					form: url.Values{"group": {m.demoGroups["Employees"]}}}
			}, want: statuses(303),
			other: func(m *mxWorld) mxReq {
				return mxReq{method: "POST", path: "/admin/apps/" + m.otherApps[demoNotes] + "/unassign",
					form: url.Values{"group": {m.otherGroups["Employees"]}}}
			},
		}}},
		{"GET /admin/audit", accessConsole, []mxProbe{{own: get("/admin/audit"), why: "lists the token's org only"}}},
	}
}

// m4 makes one probe per device action (erase may be refused by the
// policy: the device's own check, not the caller's).
func m4(p func(action string, want []int) mxProbe) []mxProbe {
	return []mxProbe{
		p("lock", statuses(202)), p("refresh", statuses(202)), p("deprovision", statuses(202)), p("erase", statuses(202, 403)),
	}
}

var androidFacts = deviceFacts{Platform: "android", OSVersion: "9", APILevel: 28, Manufacturer: "Google", Model: "Pixel 3", Ownership: "personal"}

// mxWorld is the world with the other org seeded like the demo org (users,
// groups, policy, apps), spare devices for destructive actions, an
// enrolled iPhone and Android device, and a read-only handle on the
// database.
type mxWorld struct {
	*world
	t        *testing.T
	patterns []string
	raw      *sql.DB
	csrfKey  []byte

	session     string // alice's agent session
	console     string // a console session
	otherTok    string // the other org's alice's agent session
	apple       *appleDevice
	androidCred string
	androidDev  string
	scepRequest []byte // a PKI message with the demo org's challenge
	scepPending *sceptest.Pending
	// renewalRequest is a PKI message with the renewal challenge of the
	// apple device's identity.
	renewalRequest []byte
	renewalPending *sceptest.Pending
	// otherSession is an open enrollment session of the other org.
	otherSession string
	otherCA      *x509.Certificate

	demoUsers, otherUsers   map[string]string // username → ID
	otherPasswords          map[string]string
	demoGroups, otherGroups map[string]string // name → ID
	demoApps, otherApps     map[string]string // identifier → ID
	demoPolicy, otherPolicy policy.ID

	spares []string // alice's devices for destructive actions
	seq    int

	// settingsProfile is the path of the apple device's declarative
	// settings profile.
	settingsProfile string
}

func newMxWorld(t *testing.T) *mxWorld {
	t.Helper()
	return newMxWorldVia(t, false)
}

// newMxWorldVia is newMxWorld, with the server behind a TLS-terminating
// proxy when proxied.
func newMxWorldVia(t *testing.T, proxied bool) *mxWorld {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	var p *frontProxy
	if proxied {
		p = newFrontProxy(t, dir)
	}
	w := newWorldVia(t, dir, p)
	m := &mxWorld{world: w, t: t, demoUsers: w.users, otherPasswords: map[string]string{}}
	w.stop()

	ctx := t.Context()
	s, err := sqlite.Open(ctx, filepath.Join(w.dir, "omm.db"), sqlite.WithLogger(discardLog()))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := newServer(ctx, s, config{dataDir: w.dir}, serverDeps{log: discardLog(), now: time.Now,
		push: pushSetup{topic: defaultTopic}, publicURL: "https://127.0.0.1:8443"})
	if err != nil {
		t.Fatal(err)
	}
	m.patterns = srv.router().patterns
	m.csrfKey = srv.csrfKey
	creds, err := seedDemo(ctx, w.otherOrg, srv.dir, srv.sdk.Policy)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range creds {
		m.otherPasswords[c.username] = c.password
	}
	m.otherGroups, m.otherUsers = mxNames(t, srv, w.otherOrg)
	m.demoGroups, _ = mxNames(t, srv, demoOrg.ID)
	if err := seedDemoApps(ctx, w.otherOrg, srv.sdk.Catalog, m.otherGroups["Employees"]); err != nil {
		t.Fatal(err)
	}
	m.otherApps, m.otherPolicy = mxCatalog(t, srv, w.otherOrg)
	m.demoApps, m.demoPolicy = mxCatalog(t, srv, demoOrg.ID)
	for i := range 16 {
		d, err := srv.sdk.Inventory.Register(ctx, inventory.Device{Org: demoOrg.ID, UserID: w.users["alice"], Platform: inventory.PlatformIOS,
			Ownership: inventory.OwnershipCompany, EnrollmentType: inventory.EnrollAppleDevice,
			State: inventory.StateEnrolled, Identifier: fmt.Sprintf("UDID-SPARE-%02d", i)}, "test")
		if err != nil {
			t.Fatal(err)
		}
		m.spares = append(m.spares, d.ID)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	w.testServer = w.start(t)

	m.raw, err = sql.Open("sqlite", "file:"+filepath.Join(w.dir, "omm.db")+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.raw.Close() })

	m.session = w.agentSignIn(t, "alice")
	m.console = consoleSignIn(t, w.testServer, w.dir, w.first.adminToken)
	m.otherTok = mxOtherSignIn(t, m)
	m.apple = enrollApple(t, w, m.session, "UDID-MATRIX-000001")
	m.settingsProfile = mxSettingsProfile(t, m.apple)
	e := must[androidEnrollment](t, 200)(w.do(t, "POST", "/api/agent/android/enroll", m.session, androidFacts))
	enr := must[agent.EnrollResponse](t, 200)(w.do(t, "POST", "/android/agent/enroll", "",
		agent.EnrollRequest{Token: e.Token, Identifier: "android-id-matrix"}))
	m.androidCred, m.androidDev = enr.Credential, enr.DeviceID
	m.scepRequest = mxSCEPRequest(t, m)
	m.renewalRequest, m.renewalPending = mxRenewalRequest(t, m)
	m.otherSession = mxOtherSession(m)
	// An org's device CA is made at its first use, by whoever asks for
	// its certificate (public by the protocol): make the other org's now,
	// so that the matrix starts from its complete state.
	status, der := m.do(t, "GET", "/scep/"+string(m.otherOrg)+"?operation=GetCACert", "", nil)
	if status != 200 {
		t.Fatalf("other org's GetCACert = %d", status)
	}
	if m.otherCA, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	return m
}

func mxNames(t *testing.T, srv *server, org storage.OrgID) (groups, users map[string]string) {
	t.Helper()
	groups, users = map[string]string{}, map[string]string{}
	gs, err := srv.dir.ListGroups(t.Context(), org)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		groups[g.Name] = g.ID
	}
	us, err := srv.dir.ListUsers(t.Context(), org)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range us {
		users[u.Username] = u.ID
	}
	return groups, users
}

func mxCatalog(t *testing.T, srv *server, org storage.OrgID) (map[string]string, policy.ID) {
	t.Helper()
	apps, err := srv.sdk.Catalog.ListApps(t.Context(), org)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, a := range apps {
		ids[a.Identifier] = a.ID
	}
	pols, err := srv.sdk.Policy.List(t.Context(), org)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pols {
		if p.Name == demoPolicyName {
			return ids, p.ID
		}
	}
	t.Fatalf("org %s has no demo policy", org)
	return nil, ""
}

// mxOtherSignIn signs the other org's alice in through the agent API.
func mxOtherSignIn(t *testing.T, m *mxWorld) string {
	t.Helper()
	type session struct{ Token string }
	s := must[session](t, 200)(m.do(t, "POST", "/api/agent/auth/signin", "",
		map[string]string{"site": "other", "username": "alice", "password": m.otherPasswords["alice"]}))
	return must[session](t, 200)(m.do(t, "POST", "/api/agent/auth/pin", s.Token, map[string]string{"pin": "4829", "confirm": "4829"})).Token
}

func (m *mxWorld) unique(prefix string) string {
	m.seq++
	return fmt.Sprintf("%s-%d", prefix, m.seq)
}

// spare returns a device of alice's that no probe used yet.
func (m *mxWorld) spare() string {
	if len(m.spares) == 0 {
		m.t.Fatal("out of spare devices: register more in newMxWorld")
	}
	id := m.spares[0]
	m.spares = m.spares[1:]
	return id
}

// otaPath is the demo enrollment URL of a fresh OTA session, with its
// path's org replaced by the given prefix's.
func (m *mxWorld) otaPath(prefix string) string {
	dec := must[decisionView](m.t, 200)(m.do(m.t, "POST", "/api/agent/enroll", m.session,
		enrollRequest{Facts: deviceFacts{Platform: "ios", OSVersion: "17.4"}, Delivery: "ota"}))
	u, err := url.Parse(dec.EnrollURL)
	if err != nil {
		m.t.Fatal(err)
	}
	return prefix + "?" + u.RawQuery
}

// directPath is a fresh direct-enrollment URL with its org set to org.
func (m *mxWorld) directPath(org string) string {
	dec := must[decisionView](m.t, 200)(m.do(m.t, "POST", "/api/agent/enroll", m.session,
		enrollRequest{Facts: deviceFacts{Platform: "ios", OSVersion: "17.4"}, Delivery: "direct"}))
	u, err := url.Parse(dec.EnrollURL)
	if err != nil {
		m.t.Fatal(err)
	}
	return "/enroll/" + org + "/mobileconfig?" + u.RawQuery
}

func (m *mxWorld) policyBody(name string, groups ...string) policyBody {
	return policyBody{Name: name, Priority: 200 + m.seq, Groups: groups,
		Rules: map[policy.Platform]policy.Rule{policy.IOS: {Action: policy.Allow}}}
}

// policyForm is p as the console's policy form posts it.
func (m *mxWorld) policyForm(p policyBody) url.Values {
	v := url.Values{"name": {p.Name}, "description": {p.Description}, "priority": {fmt.Sprint(p.Priority)},
		"version": {fmt.Sprint(p.Version)}, "agreement": {p.Agreement}, "groups": p.Groups}
	for _, pl := range policy.Platforms() {
		k := string(pl) + "_"
		rule, ok := p.Rules[pl]
		if !ok {
			v.Set(k+"action", "deny")
			continue
		}
		v.Set(k+"action", string(rule.Action))
		q := rule.Requirements
		if q.Passcode.Required {
			v.Set(k+"passcode", "on")
			v.Set(k+"passcode_min", fmt.Sprint(q.Passcode.MinLength))
		}
		for name, on := range map[string]bool{"encryption": q.Encryption, "refuse_compromised": q.RefuseCompromised, "full_wipe": q.AllowFullWipe,
			"separate": q.DataSeparation != (policy.DataSeparation{}), "work_profile": q.Android.Modes.WorkProfile,
			"knox": q.Android.Modes.Knox, "device_admin": q.Android.Modes.DeviceAdmin} {
			if on {
				v.Set(k+name, "on")
			}
		}
		v.Set(k+"min_os", q.MinOSVersion)
	}
	return v
}

func (m *mxWorld) createPolicy(name string) policyBody {
	return must[policyBody](m.t, 201)(m.do(m.t, "POST", "/api/admin/policies", m.first.adminToken, m.policyBody(name, m.demoGroups["Contractors"])))
}

func (m *mxWorld) currentPolicy(id policy.ID) policyBody {
	p := must[policyBody](m.t, 200)(m.do(m.t, "GET", "/api/admin/policies/"+string(id), m.first.adminToken, nil))
	p.Created, p.Updated = nil, nil
	return p
}

func (m *mxWorld) currentApp(id string) map[string]any {
	a := must[map[string]any](m.t, 200)(m.do(m.t, "GET", "/api/admin/apps/"+id, m.first.adminToken, nil))
	for _, k := range []string{"created", "updated", "org"} {
		delete(a, k)
	}
	return a
}

func (m *mxWorld) createApp() (string, int64) {
	a := must[struct {
		ID      string `json:"id"`
		Version int64  `json:"version"`
	}](m.t, 201)(m.do(m.t, "POST", "/api/admin/apps", m.first.adminToken,
		map[string]any{"kind": "ios_app_store", "identifier": "com.example." + m.unique("doomed"), "store_id": 43, "name": "Doomed"}))
	return a.ID, a.Version
}

// send makes r with credential c and returns the status, the Location
// header and the body.
func (m *mxWorld) send(r mxReq, c cred) (int, string, []byte) {
	t := m.t
	t.Helper()
	var body io.Reader
	ctype := ""
	session := m.session
	if r.token != "" {
		session = r.token
	}
	form := r.form
	if form != nil {
		form = cloneValues(form)
		switch c {
		case credWeb:
			form.Set("csrf", m.csrf(csrfSession, session))
		case credConsole:
			form.Set("csrf", m.csrf(csrfAdmin, m.console))
		case credPre:
			form.Set("csrf", m.csrf(csrfPre, mxPre))
		}
	}
	switch {
	case r.json != nil:
		data, err := json.Marshal(r.json)
		if err != nil {
			t.Fatal(err)
		}
		body, ctype = bytes.NewReader(data), "application/json"
	case form != nil:
		body, ctype = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
	case r.plist != nil:
		data, err := plist.Marshal(r.plist)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(data)
	case r.raw != nil:
		body = bytes.NewReader(r.raw)
	}
	base := m.base
	if c == credForged {
		base = m.backend
	}
	req, err := http.NewRequestWithContext(t.Context(), r.method, base+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	client := m.client
	switch c {
	case credDevice:
		client = m.apple.client
	case credForged:
		client = &http.Client{}
		leaf := m.apple.client.Transport.(*http.Transport).TLSClientConfig.Certificates[0].Certificate[0]
		req.Header.Set(proxyHeader, checkin.FormatForwardedCert(leaf))
	case credAndroid:
		req.Header.Set("Authorization", "Bearer "+m.androidCred)
	case credAgent:
		req.Header.Set("Authorization", "Bearer "+session)
	case credOtherOrgAgent:
		req.Header.Set("Authorization", "Bearer "+m.otherTok)
	case credAdmin:
		req.Header.Set("Authorization", "Bearer "+m.first.adminToken)
	case credWeb:
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: session})
	case credPre:
		req.AddCookie(&http.Cookie{Name: preCookie, Value: mxPre})
	case credConsole:
		req.AddCookie(&http.Cookie{Name: adminCookie, Value: m.console})
	}
	if client.CheckRedirect == nil { // the device's client: never follow
		client = &http.Client{Transport: client.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	// A privilege step (the PIN) replaces the session's token: the
	// world's user carries on with the new one, as the app or browser
	// would.
	if r.token == "" {
		switch {
		case c == credAgent && strings.HasPrefix(r.path, "/api/agent/auth/"):
			var v struct{ Token string }
			if json.Unmarshal(data, &v) == nil && v.Token != "" {
				m.session = v.Token
			}
		case c == credWeb:
			for _, ck := range resp.Cookies() {
				if ck.Name == sessionCookie && ck.Value != "" {
					m.session = ck.Value
				}
			}
		case c == credConsole && r.path == "/admin/signout" && resp.StatusCode == http.StatusSeeOther:
			// The sign-out ended the session: the next probes sign in again.
			m.console = consoleSignIn(t, m.testServer, m.dir, m.first.adminToken)
		}
	}
	return resp.StatusCode, resp.Header.Get("Location"), data
}

// mxPre is the pre-session binding of the sign-in forms' requests.
const mxPre = "matrix-pre-session-binding-0123456789abcdef"

func (m *mxWorld) csrf(purpose, binding string) string {
	return (&server{csrfKey: m.csrfKey}).csrfToken(purpose, binding)
}

// markers are strings of the other org's data that no answer to a demo
// credential may contain.
func (m *mxWorld) markers() []string {
	out := []string{m.otherDev, "UDID-OTHER", string(m.otherPolicy), `"org_other"`, "Other Org"}
	for _, id := range m.otherUsers {
		out = append(out, id)
	}
	for _, id := range m.otherGroups {
		out = append(out, id)
	}
	for _, id := range m.otherApps {
		out = append(out, id)
	}
	return out
}

// state is the stored state as text, one line per row: the other org's
// rows only (org != "") or all rows. Audit entries of denied requests are
// left out: recording the refusal is the one write a refusal makes.
func (m *mxWorld) state(org storage.OrgID) string {
	t := m.t
	t.Helper()
	ctx := t.Context()
	rows, err := m.raw.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	var lines []string
	for _, table := range tables {
		if table == "omm_push_outbox" || table == "omm_leases" {
			// The server's background work (pushes owed, the reconcile's
			// lease) moves on its own, whatever the requests.
			continue
		}
		rows, err := m.raw.QueryContext(ctx, `SELECT * FROM "`+table+`"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		orgCol, actionCol, kindCol := slices.Index(cols, "org_id"), slices.Index(cols, "action"), slices.Index(cols, "kind")
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			if org != "" && (orgCol < 0 || fmt.Sprint(vals[orgCol]) != string(org)) {
				continue
			}
			if table == "omm_audit_log" && actionCol >= 0 && fmt.Sprint(vals[actionCol]) == deniedAction {
				continue
			}
			// The denial's event, and the org's audit and event counters it
			// moves.
			if table == "omm_events" && kindCol >= 0 && fmt.Sprint(vals[kindCol]) == string(events.SecurityDenied) ||
				table == "omm_event_seqs" || table == "omm_audit_seq" {
				continue
			}
			if table == "omm_auth_sessions" {
				// Presenting a session marks it used: the holder's own
				// session, never a write on what the request names.
				for _, c := range []string{"last_used_us", "version"} {
					if i := slices.Index(cols, c); i >= 0 {
						vals[i] = nil
					}
				}
			}
			lines = append(lines, fmt.Sprintf("%s %v", table, mxText(vals)))
		}
		rows.Close()
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func mxText(vals []any) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		if b, ok := v.([]byte); ok {
			out[i] = fmt.Sprintf("%x", b)
		} else {
			out[i] = fmt.Sprint(v)
		}
	}
	return out
}

// refused reports whether an answer refuses the request for a class:
// 401/403/404 for APIs and devices, a redirect to sign-in or a 401/403/404
// page for the web classes.
func refused(a access, status int, location string) bool {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return true
	case http.StatusSeeOther, http.StatusFound:
		return a == accessWeb && strings.HasPrefix(location, "/signin") || a == accessConsole && location == "/admin"
	}
	// Devices may also be refused as malformed when they present no
	// identity at all (the body is read before the identity is checked).
	return a == accessDevice && status == http.StatusBadRequest
}

// TestRouteMatrix checks every route of the server against the matrix.
func TestRouteMatrix(t *testing.T) {
	runRouteMatrix(t, newMxWorld(t))
}

// TestRouteMatrixBehindProxy checks every route of the server against the
// matrix with the server as plain HTTP behind a TLS-terminating proxy
// that forwards the devices' certificates; on the device routes, the
// device's real certificate in the proxy's header, sent from an address
// that is not the proxy's, is refused too.
func TestRouteMatrixBehindProxy(t *testing.T) {
	runRouteMatrix(t, newMxWorldVia(t, true))
}

func runRouteMatrix(t *testing.T, m *mxWorld) {
	matrix := routeMatrix()

	// The matrix and the router list the same patterns.
	entries := map[string]bool{}
	for _, r := range matrix {
		if entries[r.pattern] {
			t.Errorf("pattern %q has two matrix entries", r.pattern)
		}
		entries[r.pattern] = true
	}
	registered := map[string]bool{}
	for _, p := range m.patterns {
		registered[p] = true
		if !entries[p] {
			t.Errorf("route %q is registered but has no route matrix entry: add one to routeMatrix in routematrix_test.go", p)
		}
	}
	for _, r := range matrix {
		if !registered[r.pattern] {
			t.Errorf("route matrix entry %q names no registered route: remove or update it", r.pattern)
		}
	}

	otherBefore := m.state(m.otherOrg)
	markers := m.markers()
	// An answer may repeat what the request said (a not-found message
	// naming the ID asked for); anything else of the other org is a leak.
	leaks := func(t *testing.T, what string, body []byte, r mxReq) {
		t.Helper()
		sent := r.path + fmt.Sprint(r.form) + fmt.Sprint(r.json)
		for _, mk := range markers {
			if mk != "" && !strings.Contains(sent, mk) && bytes.Contains(body, []byte(mk)) {
				t.Errorf("%s: the answer shows the other org's %q:\n%.400s", what, mk, body)
			}
		}
	}
	for _, route := range matrix {
		t.Run(route.pattern, func(t *testing.T) {
			m.t = t
			defer func() { m.t = nil }()
			if len(route.probes) == 0 {
				t.Fatal("no probes")
			}
			for _, p := range route.probes {
				if p.other == nil && p.why == "" && route.access != accessPublic {
					t.Errorf("a probe of %s has no cross-org request and no reason why", route.pattern)
				}
				mxCheck(t, m, route, p, leaks)
			}
		})
		m.t = t
	}
	if after := m.state(m.otherOrg); after != otherBefore {
		t.Errorf("the matrix changed the other org's stored state:\n%s", mxDiff(otherBefore, after))
	}
}

// mxCheck runs one probe's requests.
func mxCheck(t *testing.T, m *mxWorld, route mxRoute, p mxProbe, leaks func(*testing.T, string, []byte, mxReq)) {
	t.Helper()
	own := p.own(m)
	name := own.method + " " + own.path
	want := p.want
	if want == nil {
		want = statuses(200)
	}
	ownAs := ownCred[route.access]
	if p.as != "" {
		ownAs = p.as
	}

	// Refusals first, so that a destructive own request comes last. Each
	// refusal leaves every org's stored state as it was.
	refuse := func(what string, r mxReq, c cred) {
		t.Helper()
		before := m.state("")
		status, loc, body := m.send(r, c)
		if !refused(route.access, status, loc) {
			t.Errorf("%s %s with %s (%s): %d → %q, want a refusal: %.300s", r.method, r.path, c, what, status, loc, body)
		}
		leaks(t, fmt.Sprintf("%s %s with %s", r.method, r.path, c), body, r)
		if after := m.state(""); after != before {
			t.Errorf("%s %s with %s (%s) was refused but changed stored state:\n%s", r.method, r.path, c, what, mxDiff(before, after))
		}
	}
	if route.access != accessPublic && route.access != accessEnroll {
		refuse("no credentials", own, credNone)
		for _, c := range wrongCreds[route.access] {
			refuse("wrong role", own, c)
		}
		if route.access == accessAgent && strings.Contains(own.path, "/devices/") {
			refuse("the other org's user on this org's device", own, credOtherOrgAgent)
		}
		if route.access == accessDevice && m.proxy != nil {
			refuse("a forged proxy header", own, credForged)
		}
	}
	if p.other != nil {
		otherBefore := m.state(m.otherOrg)
		r := p.other(m)
		c := ownCred[route.access]
		if p.as != "" {
			c = p.as
		}
		status, loc, body := m.send(r, c)
		// A 400 refuses too: the request named what this org does not have.
		ok := refused(route.access, status, loc) || status == http.StatusBadRequest
		switch {
		case p.otherRefused != nil:
			ok = p.otherRefused(m, status, body)
		case route.access == accessPublic:
			ok = status >= 400 && status < 500
		case strings.Contains(r.path, "?user="): // a filter: answered, with nothing of the other org
			ok = status == 200
		}
		if !ok {
			t.Errorf("%s %s (other org's resource) with %s: %d → %q, want a refusal: %.300s", r.method, r.path, c, status, loc, body)
		}
		leaks(t, "other org's resource "+r.path, body, r)
		if after := m.state(m.otherOrg); after != otherBefore {
			t.Errorf("%s %s changed the other org's stored state:\n%s", r.method, r.path, mxDiff(otherBefore, after))
		}
	}
	if p.batch != nil {
		r := p.batch(m)
		before := m.state("")
		status, loc, body := m.send(r, ownCred[route.access])
		if status < 400 || status >= 500 {
			t.Errorf("%s %s (a batch mixing orgs): %d → %q, want it refused whole: %.300s", r.method, r.path, status, loc, body)
		}
		if after := m.state(""); after != before {
			t.Errorf("%s %s (a batch mixing orgs) changed stored state:\n%s", r.method, r.path, mxDiff(before, after))
		}
	}

	status, loc, body := m.send(own, ownAs)
	if !slices.Contains(want, status) || !bytes.Contains(body, []byte(p.wantBody)) {
		t.Errorf("%s with %s: %d → %q, want %v %s: %.300s", name, ownAs, status, loc, want, p.wantBody, body)
	}
	leaks(t, name, body, own)
}

// mxDiff lists the lines only one of two states has.
func mxDiff(before, after string) string {
	b, a := strings.Split(before, "\n"), strings.Split(after, "\n")
	var out []string
	for _, l := range b {
		if !slices.Contains(a, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range a {
		if !slices.Contains(b, l) {
			out = append(out, "+ "+l)
		}
	}
	if len(out) > 20 {
		out = append(out[:20], fmt.Sprintf("… %d more", len(out)-20))
	}
	return strings.Join(out, "\n")
}

func (m *mxWorld) assignmentVersion(app, group string) int64 {
	list := must[struct {
		Assignments []struct {
			Group   string `json:"group"`
			Version int64  `json:"version"`
		} `json:"assignments"`
	}](m.t, 200)(m.do(m.t, "GET", "/api/admin/apps/"+app+"/assignments", m.first.adminToken, nil))
	for _, a := range list.Assignments {
		if a.Group == group {
			return a.Version
		}
	}
	m.t.Fatalf("app %s is not assigned to %s", app, group)
	return 0
}

// mxSCEPRequest is a PKI message carrying the challenge of a fresh demo
// enrollment, encrypted to the demo org's CA.
func mxSCEPRequest(t *testing.T, m *mxWorld) []byte {
	t.Helper()
	status, signed := m.do(t, "GET", m.directPath(string(demoOrg.ID)), "", nil)
	if status != 200 {
		t.Fatalf("mobileconfig = %d", status)
	}
	status, caDER := m.do(t, "GET", "/scep/"+string(demoOrg.ID)+"?operation=GetCACert", "", nil)
	if status != 200 {
		t.Fatalf("GetCACert = %d", status)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	content, _, err := profile.Verify(signed, profile.VerifyOptions{Signer: ca})
	if err != nil {
		t.Fatal(err)
	}
	prof, err := profile.Decode(content)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range prof.Payloads {
		if sp, ok := p.(*profile.SCEP); ok {
			key, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatal(err)
			}
			msg, pending, err := sceptest.Request{Key: key, Challenge: sp.Challenge, Subject: pkix.Name{CommonName: "device"}}.Build(ca)
			if err != nil {
				t.Fatal(err)
			}
			m.scepPending = pending
			return msg
		}
	}
	t.Fatal("the profile has no SCEP payload")
	return nil
}

// mxIssuedProfile issues one enrollment profile for the demo org's alice
// through the admin API and returns its session.
func mxIssuedProfile(m *mxWorld) string {
	m.t.Helper()
	got := must[struct {
		Profiles []struct{ Session string }
	}](m.t, 201)(m.do(m.t, "POST", "/api/admin/enrollment-profiles", m.first.adminToken,
		map[string]any{"user_id": m.demoUsers["alice"], "platform": "ios"}))
	if len(got.Profiles) != 1 {
		m.t.Fatalf("issued %+v", got)
	}
	return got.Profiles[0].Session
}

// mxOtherSession starts an enrollment of the other org's alice and
// returns its session.
func mxOtherSession(m *mxWorld) string {
	m.t.Helper()
	dec := must[decisionView](m.t, 200)(m.do(m.t, "POST", "/api/agent/enroll", m.otherTok,
		enrollRequest{Facts: deviceFacts{Platform: "ios", OSVersion: "17.4"}}))
	u, err := url.Parse(dec.EnrollURL)
	if err != nil {
		m.t.Fatal(err)
	}
	session, _, ok := strings.Cut(u.Query().Get("token"), ".")
	if !ok {
		m.t.Fatalf("enrollment URL %s carries no session", dec.EnrollURL)
	}
	return session
}

// mxRenewalRequest queues the renewal of the apple device's identity, as
// the server does near its expiry (an SDK over the same database with a
// clock 340 days ahead), and returns a PKI message with the challenge of
// the renewal profile queued for it.
func mxRenewalRequest(t *testing.T, m *mxWorld) ([]byte, *sceptest.Pending) {
	t.Helper()
	ctx := t.Context()
	s, err := sqlite.Open(ctx, filepath.Join(m.dir, "omm.db"), sqlite.WithLogger(discardLog()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	later := func() time.Time { return time.Now().Add(340 * 24 * time.Hour) }
	srv, err := newServer(ctx, s, config{dataDir: m.dir}, serverDeps{log: discardLog(), now: later,
		push: pushSetup{topic: defaultTopic}, publicURL: "https://127.0.0.1:8443"})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := srv.sdk.RenewIdentities(ctx, demoOrg.ID); err != nil || r.Queued != 1 {
		t.Fatalf("renewal of the matrix iPhone: %+v, %v", r, err)
	}
	d, err := s.DeviceByIdentifier(ctx, demoOrg.ID, m.apple.udid)
	if err != nil {
		t.Fatal(err)
	}
	cmds, err := s.Commands(ctx, demoOrg.ID, d.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := srv.sdk.SCEP.CACertificate(ctx, demoOrg.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		if c.RequestType != "InstallProfile" {
			continue
		}
		var body struct{ Command struct{ Payload []byte } }
		if err := plist.Unmarshal(c.Body, &body); err != nil {
			t.Fatal(err)
		}
		content, _, err := profile.Verify(body.Command.Payload, profile.VerifyOptions{Signer: ca})
		if err != nil {
			t.Fatal(err)
		}
		prof, err := profile.Decode(content)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range prof.Payloads {
			if sp, ok := p.(*profile.SCEP); ok {
				key, err := rsa.GenerateKey(rand.Reader, 2048)
				if err != nil {
					t.Fatal(err)
				}
				msg, pending, err := sceptest.Request{Key: key, Challenge: sp.Challenge, Subject: pkix.Name{CommonName: m.apple.udid}}.Build(ca)
				if err != nil {
					t.Fatal(err)
				}
				return msg, pending
			}
		}
	}
	t.Fatalf("no renewal profile queued for the matrix iPhone: %+v", cmds)
	return nil, nil
}

// mxSettingsProfile turns declarative management on for d and returns
// the path of its settings profile.
func mxSettingsProfile(t *testing.T, d *appleDevice) string {
	t.Helper()
	decl, ok := declarativeOn(t, d)["omm.settings-profile"]
	if !ok {
		t.Fatal("the matrix's iPhone has no settings profile declaration")
	}
	u, err := url.Parse(decl.Payload["ProfileURL"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

// countingCAs counts the CA look-ups that reach it.

// mustStatus fails the test unless the answer has status want.
func mustStatus(t *testing.T, want int) func(int, []byte) {
	return func(status int, body []byte) {
		t.Helper()
		if status != want {
			t.Fatalf("status %d, want %d: %s", status, want, body)
		}
	}
}
