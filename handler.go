package omm

import (
	"context"
	"net/http"
	"strings"

	"github.com/openomm/omm/android/agent"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/enroll/declarative"
	"github.com/openomm/omm/storage"
)

// Principal is who an agent API request acts for: a signed-in user of an
// org.
type Principal struct {
	Org    storage.OrgID
	UserID string
	// Actor names the user in the audit log; empty: "user:" + UserID.
	Actor string
}

func (p Principal) actor() string {
	if p.Actor != "" {
		return p.Actor
	}
	return "user:" + p.UserID
}

// AgentAuth authenticates an agent API request: the user it acts for, or
// an error (answered 401). It must be the host's own check of a fully
// signed-in user (password, MFA, whatever the host requires).
type AgentAuth func(r *http.Request) (Principal, error)

// HandlerOption configures [SDK.Handler].
type HandlerOption func(*handlerConfig)

type handlerConfig struct {
	agentAuth AgentAuth
	denied    bool
	fallback  storage.OrgID
	who       Requester
	routes    *[]string
}

// WithAgentAuth authenticates the agent API with the host's own sign-in
// and sessions instead of the SDK's; the SDK's sign-in API
// (/api/agent/auth/…) is then not served.
func WithAgentAuth(fn AgentAuth) HandlerOption { return func(c *handlerConfig) { c.agentAuth = fn } }

// WithDeniedAudit records every refused request (401, 403) in the audit
// log of the org whose principal it verifiably presents (see
// [AuditDenied]; the SDK's own session tokens are verified); fallback gets
// the others, who names the host's own credentials (nil: none).
func WithDeniedAudit(fallback storage.OrgID, who Requester) HandlerOption {
	return func(c *handlerConfig) { c.denied, c.fallback, c.who = true, fallback, who }
}

// WithRoutes appends every route pattern the handler serves to *list, as
// the handler is built: for a host's test that each has an access rule.
func WithRoutes(list *[]string) HandlerOption { return func(c *handlerConfig) { c.routes = list } }

// Route is one route of the SDK's handlers: a ServeMux pattern, with the
// path prefix of Config.PublicURL (or of the admin API) included, and its
// handler. A host that wants the routes in its own mux, each with its own
// middleware, registers them one by one; [SDK.Handler] does it for it.
type Route struct {
	Pattern string
	Handler http.Handler
}

// Routes returns every route phones and the agent app call, under the
// path prefix of Config.PublicURL ({prefix} below):
//
//	PUT  {prefix}/mdm/{org}/checkin, /mdm/{org}/server  MDM check-in (declarative management too) and commands
//	GET  {prefix}/mdm/{org}/declarative/{device}/{secret}/settings.mobileconfig  a declarative device's settings profile
//	     {prefix}/scep/{org}                           the org's SCEP CA
//	GET  {prefix}/enroll/{org}/profile?token=…         OTA phase 1 (profile service)
//	POST {prefix}/enroll/{org}/ota?session=…           OTA phases 2 and 3
//	GET  {prefix}/enroll/{org}/mobileconfig?token=…    direct enrollment profile
//	     {prefix}/android/agent/…                      the Android agent protocol
//	GET  {prefix}/android/agent?token=…                the legacy modes' enrollment link, opened in a browser
//	     {prefix}/api/agent/auth/…                     the SDK's sign-in (without WithAgentAuth)
//	POST {prefix}/api/agent/eligibility                device facts → policy decision
//	POST {prefix}/api/agent/enroll                     device facts [+ "delivery"] → decision + enrollment URL (Apple)
//	GET  {prefix}/api/agent/devices                    my devices
//	GET  {prefix}/api/agent/devices/{id}/report        "What your organization can see"
//	POST {prefix}/api/agent/devices/{id}/deprovision   remove work data
//	POST {prefix}/api/agent/devices/{id}/erase         factory reset, where allowed
//	     {prefix}/api/agent/store/devices/{id}/apps…   my app store on the device
//	POST {prefix}/api/agent/android/enroll             Android device facts → one-time token, link or QR
//	POST {prefix}/api/agent/android/enroll.png         the same, as the QR code image
//	POST {prefix}/api/agent/android/devices/{id}/credential   the agent credential of a work profile or fully managed device
//
// Device endpoints take the org from the path; the agent API acts in the
// principal's org only.
func (s *SDK) Routes(opts ...HandlerOption) []Route {
	var c handlerConfig
	for _, o := range opts {
		o(&c)
	}
	prefix := strings.TrimSuffix(s.base.Path, "/")
	var rs routes
	add := func(pattern string, h http.Handler) { rs.add(prefix, pattern, h) }
	add("PUT /mdm/{org}/checkin", s.MDM.CheckInHandler())
	add("PUT /mdm/{org}/server", s.MDM.ServerHandler())
	if s.Declarative != nil {
		add(declarative.ProfilePattern, s.Declarative.ProfileHandler())
	}
	add("/scep/{org}", s.SCEP.Handler())
	add("GET /enroll/{org}/profile", s.OTA.ProfileHandler())
	add("POST /enroll/{org}/ota", s.OTA.PostHandler())
	add("GET /enroll/{org}/mobileconfig", s.OTA.MobileconfigHandler())
	agentProtocol := http.StripPrefix(prefix+AgentPath, agent.New(s.Android, agent.WithLogger(s.log)))
	add(AgentPath+"/", agentProtocol)
	add("POST "+AgentPath+"/status", s.androidReported(agentProtocol))
	add("GET "+AgentPath, http.HandlerFunc(agentLinkPage))

	require := c.agentAuth
	if require == nil && s.Auth != nil {
		add("/api/agent/auth/", http.StripPrefix(prefix+"/api/agent/auth", bodyLimit(MaxJSONBody, auth.NewHandler(s.Auth, auth.WithClientSource(s.ClientSource)))))
	}
	guard := func(h http.HandlerFunc) http.Handler { return bodyLimit(MaxJSONBody, s.agent(require, h)) }
	add("POST /api/agent/eligibility", guard(s.agentEligibility))
	add("POST /api/agent/enroll", guard(s.agentEnroll))
	add("GET /api/agent/devices", guard(s.agentDevices))
	add("GET /api/agent/devices/{id}/report", guard(s.agentReport))
	add("POST /api/agent/devices/{id}/deprovision", guard(s.agentAction(ActionDeprovision)))
	add("POST /api/agent/devices/{id}/erase", guard(s.agentAction(ActionErase)))
	add("POST /api/agent/android/enroll", guard(s.agentAndroidEnroll(false)))
	add("POST /api/agent/android/enroll.png", guard(s.agentAndroidEnroll(true)))
	add("POST /api/agent/android/devices/{id}/credential", guard(s.agentAndroidCredential))
	store := catalog.NewAgentHandler(s.Catalog, catalog.WithHandlerLogger(s.log), catalog.WithPrincipal(catalogPrincipal))
	add("/api/agent/store/", s.agent(require, http.StripPrefix(prefix+"/api/agent/store", store).ServeHTTP))
	return rs
}

// Handler serves [SDK.Routes] (see there for the paths): mount it at the
// path prefix of Config.PublicURL, or at the root. A request under neither
// is answered 404 saying where the endpoints are.
func (s *SDK) Handler(opts ...HandlerOption) http.Handler {
	var c handlerConfig
	for _, o := range opts {
		o(&c)
	}
	rs := s.Routes(opts...)
	prefix := strings.TrimSuffix(s.base.Path, "/")
	rs = append(rs, Route{"/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not found: the device-management endpoints are under "+prefix+"/ (Config.PublicURL)", http.StatusNotFound)
	})})
	return s.serve(rs, c)
}

// serve builds a mux of rs, recording denied requests when asked to.
func (s *SDK) serve(rs []Route, c handlerConfig) http.Handler {
	mux := http.NewServeMux()
	for _, r := range rs {
		mux.Handle(r.Pattern, r.Handler)
		if c.routes != nil {
			*c.routes = append(*c.routes, r.Pattern)
		}
	}
	if !c.denied {
		return mux
	}
	opts := []DeniedOption{WithDeniedClock(s.now), WithDeniedLogger(s.log), WithDeniedSource(s.ClientSource)}
	if s.Auth != nil {
		opts = append(opts, WithDeniedSessions(s.Auth))
	}
	return AuditDenied(mux, s.Store, c.fallback, c.who, opts...)
}

// routes collects routes under a path prefix.
type routes []Route

// add registers pattern ("[METHOD ]/path") under prefix.
func (rs *routes) add(prefix, pattern string, h http.Handler) {
	if method, path, ok := strings.Cut(pattern, " "); ok {
		pattern = method + " " + prefix + path
	} else {
		pattern = prefix + pattern
	}
	*rs = append(*rs, Route{pattern, h})
}

type principalKey struct{}

// agent authenticates an agent API request (require, or the SDK's own
// sign-in) and passes the principal on in the context.
func (s *SDK) agent(require AgentAuth, h http.HandlerFunc) http.Handler {
	if require == nil {
		if s.Auth == nil {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				writeAPIError(w, http.StatusUnauthorized, "unauthorized", "no sign-in is configured for the agent API")
			})
		}
		return s.Auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ap, _ := auth.PrincipalFrom(r.Context()) // Require guarantees it
			p := Principal{Org: ap.User.Org, UserID: ap.User.ID}
			h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
		}))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := require(r)
		if err != nil || p.Org.Validate() != nil || p.UserID == "" {
			writeAPIError(w, http.StatusUnauthorized, "unauthorized", "sign in first")
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// PrincipalFrom returns the agent API principal of a request the SDK
// authenticated.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

func principal(r *http.Request) Principal {
	p, _ := PrincipalFrom(r.Context()) // agent() guarantees it
	return p
}

func catalogPrincipal(ctx context.Context) (catalog.Principal, bool) {
	p, ok := PrincipalFrom(ctx)
	if !ok {
		return catalog.Principal{}, false
	}
	return catalog.Principal{Org: p.Org, UserID: p.UserID, Actor: p.actor()}, true
}
