// Package auth owns sign-in for the agent app: resolving a site name to its
// org, the pluggable user [Directory] and the built-in one, password
// hashing, multi-factor authentication, the agent PIN, sessions and
// throttling. [Service] has the protocol as plain Go methods; [NewHandler]
// adapts them to the agent app's JSON API, and [Service.Require] guards
// other packages' routes.
//
// Orgs themselves are stored through the storage package, because every
// other record is scoped by one; this package owns how a person finds
// theirs ([Domains], [Service.ResolveSite]).
//
// # Sign-in state machine
//
// A right password opens a session in [StateMFA] when the org's [SignOn]
// rule requires MFA or the embedder's [MFARequirement] does for the user
// (the SDK: the user's mobile policy, or an authenticator the user set
// up), else in [StatePINSetup]. A TOTP code or an SMS/voice
// code moves it on to StatePINSetup; setting and confirming the agent PIN
// makes it [StateActive]. Other packages accept only active, unlocked
// sessions ([Service.Authenticate]); the errors say what is missing.
//
// # Directory
//
// Consumers ask the [Directory] for users and groups: policy targets group
// IDs, catalog assigns apps to groups, inventory takes a user's phone
// number from it (never from the device). [LocalDirectory] is the built-in
// one, stored through [Store]; an embedder supplies its own by implementing
// the three methods (see the package example). A user the directory no
// longer reports as active loses all sessions at their next request; the
// built-in directory also revokes them in the same transaction that
// deactivates the user.
//
// # Secrets
//
// Passwords and agent PINs are argon2id hashes (19 MiB, 2 passes, 16-byte
// salt per hash by default) whose parameters are encoded with the hash;
// raising [Params] rehashes a password at its next successful sign-in. An
// unknown username is checked against a dummy hash, so that it costs the
// same time as a wrong password. Each hash holds its memory while it runs,
// so at most [WithConcurrentHashes] run at once and further sign-ins queue.
// Session tokens carry 256 random bits and
// are stored only as SHA-256 hashes; phone codes only as salted HMACs. TOTP
// secrets must be stored as they are (the server computes codes from
// them): they never appear in logs or audit details.
//
// # One-time rules and throttling
//
// Each TOTP code works once (the store compares and sets the last used time
// step atomically), a phone code works once and for 10 minutes, and of
// concurrent submissions of one code exactly one succeeds, even across
// servers sharing a database. Failed sign-ins are counted per org and
// account, also for usernames that do not exist, and answered with an
// exponential backoff ([Throttle]); MFA failures likewise, and resending a
// code does not reset them. Ten consecutive wrong agent PINs revoke the
// session: the user signs in again with password (and MFA).
//
// # Decisions
//
// The agent PIN policy ([PINPolicy]: length, numeric or alphanumeric,
// simple PINs allowed or not, idle timeout, maximum age) lives here, in the
// org's [SignOn] rule, not in package policy: it governs the sign-in flow,
// which this package runs, and needs no group targeting. The PIN belongs
// to the session (one device's app), so a lockout ends only that session.
//
// Site names resolve in these forms, with the base and preview domains as
// service options ([WithDomains]): "acme", "acme.<base>",
// "acme.<preview domain>" and "acme<suffix>.<base>" (for example
// "acme-preview.example.com"), each also as an http(s) URL. Preview forms
// name the same org and are reported as such ([Site.Preview]).
package auth
