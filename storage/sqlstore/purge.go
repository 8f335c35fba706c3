package sqlstore

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
)

// The purge sweep: expired records go, at most limit of a kind per call,
// so that one call's work is bounded however much has piled up.

// purge deletes, in one transaction with entry (appended only when
// something went, with the count in its details), at most limit rows
// whose keys the select query (taking org, before and limit) names, from
// each of tables in order (dependants first): "table.column", the column
// holding the key. It returns how many the last table lost.
func (s *Store) purge(ctx context.Context, org storage.OrgID, before time.Time, limit int, e *storage.AuditEntry, sel string, tables ...string) (int, error) {
	if limit <= 0 || before.IsZero() {
		return 0, fmt.Errorf("%w: purge needs a positive limit and a time", storage.ErrInvalid)
	}
	if e != nil {
		var err error
		if *e, err = changeEntry(org, *e); err != nil {
			return 0, err
		}
	}
	var n int64
	err := s.write(ctx, func(tx tx) error {
		rows, err := tx.query(ctx, sel, org, micros(storage.Normalize(before)), limit)
		keys, err := collect(rows, err, scanString)
		if err != nil {
			return s.fail("purge", err)
		}
		if len(keys) == 0 {
			return nil
		}
		for i, tc := range tables {
			table, column, _ := strings.Cut(tc, ".")
			m, err := tx.affected(ctx, "DELETE FROM {"+table+"} WHERE org_id = ? AND "+column+" IN (SELECT k.value FROM {values k})",
				org, s.strings(keys))
			if err != nil {
				return s.fail("purge "+table, err)
			}
			if i == len(tables)-1 {
				n = m
			}
		}
		if e == nil {
			return nil
		}
		d := maps.Clone(e.Details)
		if d == nil {
			d = map[string]string{}
		}
		d["purged"] = strconv.FormatInt(n, 10)
		e.Details = d
		return tx.audit(ctx, *e)
	})
	return int(n), err
}

// PurgeSessions implements auth.Store.
func (s *Store) PurgeSessions(ctx context.Context, org storage.OrgID, expiredBefore time.Time, limit int, e storage.AuditEntry) (int, error) {
	return s.purge(ctx, org, expiredBefore, limit, &e,
		"SELECT id FROM {auth_sessions} WHERE org_id = ? AND expires_us < ? ORDER BY expires_us LIMIT ?",
		"auth_phone_codes.session_id", "auth_sessions.id")
}

// PurgeFailures implements auth.Store.
func (s *Store) PurgeFailures(ctx context.Context, org storage.OrgID, lastBefore time.Time, limit int) (int, error) {
	return s.purge(ctx, org, lastBefore, limit, nil,
		"SELECT key FROM {auth_failures} WHERE org_id = ? AND last_us < ? ORDER BY last_us LIMIT ?", "auth_failures.key")
}

// PurgeEnrollSessions implements enroll.PurgeStore.
func (s *Store) PurgeEnrollSessions(ctx context.Context, org storage.OrgID, expiredBefore time.Time, limit int, e storage.AuditEntry) (int, error) {
	n, err := s.purge(ctx, org, expiredBefore, limit, &e,
		"SELECT id FROM {enroll_sessions} WHERE org_id = ? AND expires_us < ? AND phase <> '"+string(enroll.PhaseEnrolled)+"' ORDER BY expires_us LIMIT ?",
		"enroll_sessions.id")
	if err != nil {
		return n, err
	}
	// The OTA identities that signed (or never signed) a phase 3: valid
	// for an hour, never bound, of no use once expired.
	m, err := s.purge(ctx, org, expiredBefore, limit, nil,
		"SELECT fingerprint FROM {enroll_identities} WHERE org_id = ? AND not_after_us < ? AND purpose = '"+string(enroll.PurposeOTA)+
			"' AND device = '' ORDER BY not_after_us LIMIT ?", "enroll_identities.fingerprint")
	return n + m, err
}

// PurgeAndroidTokens implements android.Store.
func (s *Store) PurgeAndroidTokens(ctx context.Context, org storage.OrgID, expiredBefore time.Time, limit int, e storage.AuditEntry) (int, error) {
	return s.purge(ctx, org, expiredBefore, limit, &e,
		"SELECT id FROM {android_tokens} WHERE org_id = ? AND expires_us < ? ORDER BY expires_us LIMIT ?", "android_tokens.id")
}
