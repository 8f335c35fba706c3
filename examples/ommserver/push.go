package main

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/openomm/omm/enroll/apns"
)

// pushSetup is how the server wakes devices: client is nil when push is
// disabled (devices then get their commands at their next check-in).
type pushSetup struct {
	client *apns.Client
	topic  string
	mode   string
}

// setupPush builds the APNs client the configuration asks for: a push
// certificate, a provider token, or none.
func setupPush(cfg config, log *slog.Logger) (pushSetup, error) {
	var opts []apns.Option
	if cfg.apnsEndpoint != "" {
		opts = append(opts, apns.WithEndpoint(cfg.apnsEndpoint))
	}
	if cfg.apnsRoots != "" {
		data, err := os.ReadFile(cfg.apnsRoots)
		if err != nil {
			return pushSetup{}, fmt.Errorf("-apns-roots: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return pushSetup{}, fmt.Errorf("-apns-roots: %s holds no PEM certificate", cfg.apnsRoots)
		}
		opts = append(opts, apns.WithRootCAs(pool))
	}
	opts = append(opts, apns.WithLogger(log))

	ps := pushSetup{topic: cfg.apnsTopic}
	switch {
	case cfg.apnsCert != "":
		pair, err := tls.LoadX509KeyPair(cfg.apnsCert, cfg.apnsKey)
		if err != nil {
			return pushSetup{}, fmt.Errorf("push certificate: %w", err)
		}
		leaf, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			return pushSetup{}, fmt.Errorf("push certificate: %w", err)
		}
		if ps.topic == "" {
			if ps.topic, err = apns.Topic(leaf); err != nil {
				return pushSetup{}, fmt.Errorf("push certificate: %w", err)
			}
		}
		ps.mode = "push certificate"
		opts = append(opts, apns.WithCertificate(pair))
	case cfg.apnsTokenKey != "":
		key, err := readSigner(cfg.apnsTokenKey)
		if err != nil {
			return pushSetup{}, fmt.Errorf("-apns-token-key: %w", err)
		}
		ps.mode = "provider token"
		opts = append(opts, apns.WithToken(key, cfg.apnsKeyID, cfg.apnsTeamID))
	default:
		if ps.topic == "" {
			ps.topic = defaultTopic
		}
		ps.mode = "disabled"
		return ps, nil
	}
	c, err := apns.New(ps.topic, opts...)
	if err != nil {
		return pushSetup{}, err
	}
	ps.client = c
	return ps, nil
}

// readSigner reads a PKCS #8 private key (Apple's .p8 format) from a PEM file.
func readSigner(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("not a signing key")
	}
	return s, nil
}

// reloadPush replaces the push certificate with the files -apns-cert and
// -apns-key name at every signal on hup, until ctx ends; a certificate for
// another topic is refused (and logged), the old one staying in use.
func reloadPush(ctx context.Context, hup <-chan os.Signal, cfg config, srv *server, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		pair, err := tls.LoadX509KeyPair(cfg.apnsCert, cfg.apnsKey)
		if err == nil {
			err = srv.sdk.ReplacePushCertificate(pair)
		}
		if err != nil {
			log.Error("push certificate NOT replaced; the old one stays in use", "cert", cfg.apnsCert, "err", err)
			continue
		}
		log.Info("push certificate reloaded", "cert", cfg.apnsCert)
	}
}
