// Package agent serves the agent protocol: JSON over HTTPS between our
// agent app and the SDK. In the two legacy modes (Samsung Knox, native
// device admin) the agent enrolls with a token, then authenticates every
// call with the per-device credential it got (Authorization: Bearer …),
// fetches its policy, reports status, fetches pending commands and
// acknowledges them. Inside a work profile (or on a fully managed device)
// Google delivers policy and commands; there the agent only reports status,
// with a credential from android.Service.IssueStatusCredential.
//
// Org and device always come from the credential, never from a body. Every
// body is size-limited (http.MaxBytesReader) and nesting-checked before it
// is decoded; every error has a stable code.
//
//	POST /enroll          {"token","identifier","serial_number"} → {"device_id","credential","mode","knox_license"}
//	GET  /policy?api_level=N                                    → android.AgentPolicy
//	POST /status          status report (Device resource shape)  → {"values","apps","dropped"}
//	GET  /commands                                               → {"commands":[{"id","kind","wipe"}]}
//	POST /commands/ack    {"id","status":"done"|"failed","detail"} → {"id","status"}
package agent
