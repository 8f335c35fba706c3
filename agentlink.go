package omm

import (
	"html/template"
	"net/http"
)

// The enrollment link of the legacy Android modes (Samsung Knox, native
// device admin) names the agent protocol's address. The OMM agent app
// claims it (an Android App Link), so on a device with the app installed
// the link opens the app, which enrolls with the token. Opened anywhere
// else — a browser, a device without the app, a desktop — it lands here:
// a page that says what the link is for and what to do, instead of the
// agent protocol's 404. The token is neither shown nor used here.

var agentLinkTemplate = template.Must(template.New("agent-link").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Enroll with the OMM agent app</title></head>
<body>
<main>
<h1>Open this link with the OMM agent app</h1>
<p>This link enrolls an Android device in your organization's management through the OMM agent app. It opened in a browser, so the app is not installed on this device{{if .Token}}, or the link was opened on another device{{end}}.</p>
<ol>
<li>On the Android device you want to enroll, install the OMM agent app your organization provides.</li>
<li>Open this same link again on that device (from the email or the QR code you were given): it opens in the app, which enrolls the device.</li>
</ol>
<p>The link works once and for a limited time. If it no longer works, ask for a new one in your organization's portal.</p>
</main>
</body>
</html>
`))

// agentLinkPage answers GET {prefix}/android/agent?token=…: the landing
// page of an enrollment link opened outside the agent app.
func agentLinkPage(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Referrer-Policy", "no-referrer") // the token is in the URL
	_ = agentLinkTemplate.Execute(w, struct{ Token bool }{r.URL.Query().Get("token") != ""})
}
