package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/seal"
)

// Method is an MFA method offered to a session in StateMFA.
type Method string

// MFA methods. MethodTOTPEnroll is offered only to a user with no factor
// at all (no confirmed TOTP, no phone number): enrolling an authenticator
// app then completes MFA, trusting the password for this first factor.
const (
	MethodTOTP       Method = "totp"
	MethodSMS        Method = "sms"
	MethodVoice      Method = "voice"
	MethodTOTPEnroll Method = "totp_enroll"
)

// MFA constants.
const (
	CodeDigits = 6
	// totpPeriod is the TOTP time step; codes of the step before and after
	// the current one are accepted too, for clock drift.
	totpPeriod = 30
	// maxCodeSends caps the phone codes sent per sign-in session.
	maxCodeSends = 5
)

// Sender delivers SMS and voice codes: the seam to an SMS or voice
// gateway. Implementations must be safe for concurrent use, must not log
// the code ([DevelopmentSender] excepted), and should return once the
// gateway accepted the message (a few seconds at most: the user waits).
// The phone number is the directory's, in E.164 form; the channel says
// whether to send a text or to call and read the code out.
type Sender interface {
	// SendCode delivers msg.Code to msg.Phone over msg.Channel. An error
	// means the code may not have arrived: the user can ask again, and the
	// failure count is not reset either way.
	SendCode(ctx context.Context, msg CodeMessage) error
}

// SenderFunc adapts a function to [Sender].
type SenderFunc func(ctx context.Context, msg CodeMessage) error

// SendCode calls f.
func (f SenderFunc) SendCode(ctx context.Context, msg CodeMessage) error { return f(ctx, msg) }

// DevelopmentSender is a [Sender] for development without a gateway: it
// writes each code to log, at warning level, instead of sending it.
// Anyone who reads the log can then pass MFA as any user with a phone
// number: never use it in production.
func DevelopmentSender(log *slog.Logger) Sender {
	return SenderFunc(func(ctx context.Context, m CodeMessage) error {
		log.WarnContext(ctx, "DEVELOPMENT SMS/voice sender: this code was NOT sent; read it here",
			"org", m.Org, "phone", m.Phone, "channel", m.Channel, "code", m.Code, "expires", m.Expires.UTC().Format(time.RFC3339))
		return nil
	})
}

// CodeMessage is one code to deliver.
type CodeMessage struct {
	Org     storage.OrgID
	OrgName string // the org's display name, to say who sends the code
	Phone   string // E.164, from the directory
	Channel Channel
	Code    string
	Expires time.Time
}

// methods lists the MFA methods the user can use.
func (s *Service) methods(ctx context.Context, user User) ([]Method, error) {
	var ms []Method
	f, err := s.store.TOTP(ctx, user.Org, user.ID)
	switch {
	case err == nil && f.Confirmed:
		ms = append(ms, MethodTOTP)
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return nil, fmt.Errorf("MFA methods: %w", err)
	}
	if user.Phone != "" && s.cfg.sender != nil {
		ms = append(ms, MethodSMS, MethodVoice)
	}
	if len(ms) == 0 {
		ms = append(ms, MethodTOTPEnroll)
	}
	return ms, nil
}

// Methods lists the MFA methods the session's user can use.
func (s *Service) Methods(ctx context.Context, token string) ([]Method, error) {
	_, user, _, err := s.load(ctx, token)
	if err != nil {
		return nil, err
	}
	return s.methods(ctx, user)
}

// SendCode sends a fresh code by SMS or voice to the directory's phone
// number of the session's user; the session must be in StateMFA. The code
// has CodeDigits digits, lasts 10 minutes, replaces any earlier code of the
// session and works once. Resending does not reset the failure count; it is
// refused for 30 seconds after a send (*ThrottledError) and after 5 sends
// per session. It returns when the code expires.
func (s *Service) SendCode(ctx context.Context, token string, ch Channel) (time.Time, error) {
	if !ch.valid() {
		return time.Time{}, fmt.Errorf("%w: channel %q", ErrBadRequest, ch)
	}
	sess, user, _, err := s.load(ctx, token)
	if err != nil {
		return time.Time{}, err
	}
	if sess.State != StateMFA {
		return time.Time{}, ErrWrongState
	}
	if user.Phone == "" || s.cfg.sender == nil {
		return time.Time{}, ErrNoFactor
	}
	now := s.cfg.clock()
	sends := 0
	prev, err := s.store.PhoneCode(ctx, sess.Org, sess.ID)
	switch {
	case err == nil:
		if wait := prev.Sent.Add(s.cfg.resendInterval).Sub(now); wait > 0 {
			return time.Time{}, &ThrottledError{RetryAfter: wait}
		}
		if prev.Sends >= maxCodeSends {
			return time.Time{}, &ThrottledError{RetryAfter: sess.Expires.Sub(now)}
		}
		sends = prev.Sends
	case !errors.Is(err, storage.ErrNotFound):
		return time.Time{}, fmt.Errorf("send code: %w", err)
	}
	code, err := randomDigits(CodeDigits)
	if err != nil {
		return time.Time{}, err
	}
	c := PhoneCode{Org: sess.Org, SessionID: sess.ID, Channel: ch, Salt: make([]byte, 16), Sent: now,
		Expires: now.Add(s.cfg.codeLifetime), Sends: sends + 1}
	rand.Read(c.Salt)
	c.Hash = codeHash(c.Salt, code)
	if _, err := s.store.PutPhoneCode(ctx, c, s.sessionEntry(sess, ActionMFACodeSent, map[string]string{"channel": string(ch)})); err != nil {
		return time.Time{}, fmt.Errorf("send code: %w", err)
	}
	org, err := s.store.Org(ctx, sess.Org)
	if err != nil {
		return time.Time{}, fmt.Errorf("send code: %w", err)
	}
	msg := CodeMessage{Org: sess.Org, OrgName: org.DisplayName, Phone: user.Phone, Channel: ch, Code: code, Expires: c.Expires}
	if err := s.cfg.sender.SendCode(ctx, msg); err != nil {
		return time.Time{}, fmt.Errorf("send code by %s: %w", ch, err)
	}
	return c.Expires, nil
}

// VerifyMFA checks a code for a session in StateMFA: method MethodTOTP
// checks the authenticator app (each code works once, across all servers
// sharing the store), MethodSMS and MethodVoice the code last sent. A right
// code moves the session to StatePINSetup; a wrong one yields
// ErrInvalidCode and counts towards the account's MFA throttle (which only
// a success resets).
func (s *Service) VerifyMFA(ctx context.Context, token string, method Method, code string) (Session, error) {
	sess, _, _, err := s.load(ctx, token)
	if err != nil {
		return Session{}, err
	}
	if sess.State != StateMFA {
		return Session{}, ErrWrongState
	}
	if method != MethodTOTP && method != MethodSMS && method != MethodVoice {
		return Session{}, fmt.Errorf("%w: MFA method %q", ErrBadRequest, method)
	}
	now := s.cfg.clock()
	key := mfaKey(sess)
	if err := s.reserveMFA(ctx, sess, now); err != nil {
		return Session{}, err
	}
	if method == MethodTOTP {
		err = s.useTOTP(ctx, sess, code, now, false)
	} else {
		err = s.usePhoneCode(ctx, sess, code, now)
	}
	if err != nil {
		return Session{}, s.mfaFailed(ctx, sess, method, err)
	}
	return s.mfaPassed(ctx, sess, key, method)
}

// mfaKey names the MFA failure counter of the session's user.
func mfaKey(sess Session) string { return "mfa:" + sess.UserID }

// reserveMFA reserves an MFA attempt of the session's user before the
// code is checked.
func (s *Service) reserveMFA(ctx context.Context, sess Session, now time.Time) error {
	_, err := s.reserve(ctx, sess.Org, now, AttemptRule{Key: mfaKey(sess), Throttle: s.cfg.throttle})
	return err
}

// mfaFailed audits a wrong code (its attempt stays counted) and returns
// err.
func (s *Service) mfaFailed(ctx context.Context, sess Session, method Method, err error) error {
	if !errors.Is(err, ErrInvalidCode) {
		return err
	}
	_, rerr := s.store.AppendAudit(ctx, s.sessionEntry(sess, ActionMFAFailure, map[string]string{"method": string(method)}))
	return errors.Join(err, rerr)
}

func (s *Service) mfaPassed(ctx context.Context, sess Session, key string, method Method) (Session, error) {
	if err := s.clear(ctx, sess.Org, key); err != nil {
		return Session{}, fmt.Errorf("MFA: %w", err)
	}
	sess.State = StatePINSetup
	return s.advance(ctx, sess, ActionMFASuccess, map[string]string{"method": string(method)}, true)
}

// useTOTP accepts code from the user's TOTP factor (confirmed, or
// unconfirmed when enrolling) and marks its time step used.
func (s *Service) useTOTP(ctx context.Context, sess Session, code string, now time.Time, enrolling bool) error {
	f, err := s.store.TOTP(ctx, sess.Org, sess.UserID)
	if errors.Is(err, storage.ErrNotFound) || err == nil && f.Confirmed == enrolling {
		if enrolling {
			return fmt.Errorf("%w: no pending TOTP enrollment", ErrWrongState)
		}
		return ErrNoFactor
	}
	if err != nil {
		return fmt.Errorf("TOTP: %w", err)
	}
	secret, err := s.totpSecret(ctx, sess, f)
	if err != nil {
		return err
	}
	step, ok := matchTOTP(secret, code, now, f.LastStep)
	if !ok {
		return ErrInvalidCode
	}
	err = s.store.UseTOTPStep(ctx, sess.Org, sess.UserID, step, s.sessionEntry(sess, ActionTOTPUsed, nil))
	if errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrNotFound) {
		return ErrInvalidCode // another request used this code first
	}
	return err
}

// totpLabel binds a sealed TOTP secret to its user.
func totpLabel(org storage.OrgID, userID string) string { return "totp:" + string(org) + ":" + userID }

// totpSecret opens the factor's secret. One stored in plain text before
// a keeper was configured is sealed now; a failure to do so is logged (the
// code is checked either way).
func (s *Service) totpSecret(ctx context.Context, sess Session, f TOTPFactor) (string, error) {
	label := totpLabel(f.Org, f.UserID)
	secret, sealed, err := seal.OpenString(ctx, s.cfg.secrets, f.Secret, label)
	if err != nil {
		return "", fmt.Errorf("TOTP: %w", err)
	}
	if !sealed && s.cfg.secrets != nil {
		stored, err := seal.SealString(ctx, s.cfg.secrets, secret, label)
		if err == nil {
			err = s.store.ResealTOTP(ctx, f.Org, f.UserID, f.Secret, stored, s.sessionEntry(sess, ActionTOTPSeal, nil))
		}
		if err != nil && !errors.Is(err, storage.ErrConflict) {
			s.cfg.log.WarnContext(ctx, "auth: a TOTP secret is stored in plain text and could not be sealed", "org", f.Org, "err", err)
		}
	}
	return secret, nil
}

// matchTOTP returns the time step, within one step of now and after
// lastStep, whose code is code.
func matchTOTP(secret, code string, now time.Time, lastStep int64) (int64, bool) {
	if len(code) != CodeDigits || !allDigits(code) {
		return 0, false
	}
	cur := now.Unix() / totpPeriod
	for step := cur - 1; step <= cur+1; step++ {
		want, err := hotp.GenerateCodeCustom(secret, uint64(step), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && step > lastStep {
			return step, true
		}
	}
	return 0, false
}

func (s *Service) usePhoneCode(ctx context.Context, sess Session, code string, now time.Time) error {
	c, err := s.store.PhoneCode(ctx, sess.Org, sess.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return ErrInvalidCode
	}
	if err != nil {
		return fmt.Errorf("phone code: %w", err)
	}
	if len(code) != CodeDigits || !allDigits(code) || !now.Before(c.Expires) {
		return ErrInvalidCode
	}
	h := codeHash(c.Salt, code)
	if subtle.ConstantTimeCompare(h, c.Hash) != 1 {
		return ErrInvalidCode
	}
	err = s.store.ConsumePhoneCode(ctx, sess.Org, sess.ID, h, now, s.sessionEntry(sess, ActionMFACodeUsed, map[string]string{"channel": string(c.Channel)}))
	if errors.Is(err, storage.ErrNotFound) {
		return ErrInvalidCode // used by a concurrent request, or replaced by a resend
	}
	return err
}

// TOTPEnrollment is a new authenticator-app secret to show the user, as a
// QR code of URI or as the secret typed in.
type TOTPEnrollment struct {
	Secret string
	URI    string // otpauth://totp/…
}

// EnrollTOTP starts enrolling an authenticator app for the session's user.
// It is allowed in a fully signed-in session (StatePINSetup, or
// StateActive and unlocked) and, in StateMFA, only for a user with no
// factor at all. A user with a confirmed factor yields ErrFactorExists (an
// admin removes it first with [Service.RemoveTOTP]). The factor counts once
// [Service.ConfirmTOTP] accepts a code from it.
func (s *Service) EnrollTOTP(ctx context.Context, token string) (TOTPEnrollment, error) {
	sess, user, rule, err := s.load(ctx, token)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	if err := s.mayEnroll(ctx, sess, user, rule); err != nil {
		return TOTPEnrollment{}, err
	}
	org, err := s.store.Org(ctx, sess.Org)
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("enroll TOTP: %w", err)
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: org.DisplayName, AccountName: user.Username, Period: totpPeriod, SecretSize: 20,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, Rand: rand.Reader,
	})
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("enroll TOTP: %w", err)
	}
	stored := key.Secret()
	if s.cfg.secrets != nil {
		if stored, err = seal.SealString(ctx, s.cfg.secrets, stored, totpLabel(sess.Org, user.ID)); err != nil {
			return TOTPEnrollment{}, fmt.Errorf("enroll TOTP: %w", err)
		}
	}
	f := TOTPFactor{Org: sess.Org, UserID: user.ID, Secret: stored, Created: s.cfg.clock()}
	_, err = s.store.PutTOTP(ctx, f, s.sessionEntry(sess, ActionTOTPEnroll, nil))
	if errors.Is(err, storage.ErrAlreadyExists) {
		return TOTPEnrollment{}, ErrFactorExists
	}
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("enroll TOTP: %w", err)
	}
	return TOTPEnrollment{Secret: key.Secret(), URI: key.URL()}, nil
}

func (s *Service) mayEnroll(ctx context.Context, sess Session, user User, rule SignOn) error {
	switch sess.State {
	case StatePINSetup:
		return nil
	case StateActive:
		return s.gate(sess, rule, s.cfg.clock())
	}
	ms, err := s.methods(ctx, user)
	if err != nil {
		return err
	}
	if len(ms) == 1 && ms[0] == MethodTOTPEnroll {
		return nil
	}
	return fmt.Errorf("%w: verify an existing factor before enrolling another", ErrWrongState)
}

// ConfirmTOTP completes an enrollment with a code from the new factor.
// When the session was in StateMFA this also completes MFA.
func (s *Service) ConfirmTOTP(ctx context.Context, token, code string) (Session, error) {
	sess, user, rule, err := s.load(ctx, token)
	if err != nil {
		return Session{}, err
	}
	if err := s.mayEnroll(ctx, sess, user, rule); err != nil {
		return Session{}, err
	}
	now := s.cfg.clock()
	key := mfaKey(sess)
	if err := s.reserveMFA(ctx, sess, now); err != nil {
		return Session{}, err
	}
	if err := s.useTOTP(ctx, sess, code, now, true); err != nil {
		return Session{}, s.mfaFailed(ctx, sess, MethodTOTP, err)
	}
	if sess.State == StateMFA {
		return s.mfaPassed(ctx, sess, key, MethodTOTPEnroll)
	}
	return sess, s.clear(ctx, sess.Org, key)
}

// RemoveTOTP removes a user's TOTP factor (an admin action, when the
// device holding it is lost). actor is recorded in the audit log.
func (s *Service) RemoveTOTP(ctx context.Context, org storage.OrgID, userID, actor string) error {
	return s.store.DeleteTOTP(ctx, org, userID, storage.AuditEntry{
		Org: org, Time: s.cfg.clock(), Actor: actor, Action: ActionTOTPRemove, Target: "user:" + userID,
	})
}

func randomDigits(n int) (string, error) {
	b := make([]byte, n)
	for i := range b {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			return "", fmt.Errorf("random code: %w", err)
		}
		b[i] = byte('0' + d.Int64())
	}
	return string(b), nil
}

func codeHash(salt []byte, code string) []byte {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(code))
	return m.Sum(nil)
}

func allDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
