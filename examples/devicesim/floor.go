package main

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"
	"time"
)

// The cryptographic floor: what the server's private- and public-key
// operations cost on this machine, measured one operation at a time on
// one thread (its CPU time, not the wall clock, so that other work on the
// machine weighs less), and what each path costs at least from them.

// floorOps are the raw operations, by name.
var floorOps = []string{"rsa2048-sign", "rsa2048-verify", "p256-sign", "p256-verify", "x25519", "mlkem768-encap"}

// floorPaths says which operations each path's server side makes at
// least, by count.
var floorPaths = []struct {
	Name string
	Ops  map[string]int
}{
	// Direct enrollment: the org CA signs the .mobileconfig, decrypts the
	// SCEP request, signs the certificate and the CertRep (4 RSA-2048
	// private-key operations); it verifies the SCEP request's signature
	// and, once, the new certificate's chain at its first check-in; and
	// the device's connection for Authenticate and TokenUpdate is one full
	// TLS 1.3 handshake (see the next path).
	{"direct enrollment", map[string]int{"rsa2048-sign": 4, "rsa2048-verify": 3, "p256-sign": 1, "x25519": 1, "mlkem768-encap": 1}},
	// Its protocol alone, the profile fetched before (load -split-enroll):
	// SCEP, Authenticate and TokenUpdate, one RSA signature fewer.
	{"enrollment protocol", map[string]int{"rsa2048-sign": 3, "rsa2048-verify": 3, "p256-sign": 1, "x25519": 1, "mlkem768-encap": 1}},
	// A full TLS 1.3 handshake with a device certificate: the server's
	// ECDSA signature, its X25519 key generation and shared secret, the ML-KEM-768
	// encapsulation of the hybrid key exchange Go offers by default, and
	// the client's CertificateVerify (RSA-2048).
	{"TLS full handshake", map[string]int{"p256-sign": 1, "x25519": 1, "mlkem768-encap": 1, "rsa2048-verify": 1}},
	// A resumed session (PSK with a fresh key exchange): no signature, and
	// X25519 alone under ommserver's default (devicetls.Hybrid resumes a
	// session rooted in a hybrid handshake classically).
	{"TLS resumption", map[string]int{"x25519": 1}},
}

// floorResult is the floor subcommand's report.
type floorResult struct {
	// PerOpUs is each operation's CPU time in microseconds.
	PerOpUs map[string]float64 `json:"per_op_us"`
	// PathsUs is each path's floor in microseconds.
	PathsUs map[string]float64 `json:"paths_us"`
}

// runFloor measures each operation for d and prints the floors.
func runFloor(ctx context.Context, d time.Duration, jsonOut string, out io.Writer) (floorResult, error) {
	res := floorResult{PerOpUs: map[string]float64{}, PathsUs: map[string]float64{}}
	ops, err := floorFuncs()
	if err != nil {
		return res, err
	}
	for _, name := range floorOps {
		per, err := threadCPUPerOp(ctx, d, ops[name])
		if err != nil {
			return res, fmt.Errorf("%s: %w", name, err)
		}
		res.PerOpUs[name] = float64(per) / float64(time.Microsecond)
		fmt.Fprintf(out, "%-16s %8.1f µs CPU per operation\n", name, res.PerOpUs[name])
	}
	for _, p := range floorPaths {
		var sum float64
		for op, n := range p.Ops {
			sum += float64(n) * res.PerOpUs[op]
		}
		res.PathsUs[p.Name] = sum
		fmt.Fprintf(out, "floor: %-20s %8.1f µs\n", p.Name, sum)
	}
	if jsonOut != "" {
		data, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return res, err
		}
		return res, os.WriteFile(jsonOut, append(data, '\n'), 0o644)
	}
	return res, nil
}

// floorFuncs returns one call of each operation.
func floorFuncs() (map[string]func() error, error) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256([]byte("devicesim floor"))
	rsig, err := rk.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	esig, err := ecdsa.SignASN1(rand.Reader, ek, digest[:])
	if err != nil {
		return nil, err
	}
	peer, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	dk, err := mlkem.GenerateKey768()
	if err != nil {
		return nil, err
	}
	encKey := dk.EncapsulationKey().Bytes()
	return map[string]func() error{
		"rsa2048-sign": func() error { _, err := rk.Sign(rand.Reader, digest[:], crypto.SHA256); return err },
		"rsa2048-verify": func() error {
			return rsa.VerifyPKCS1v15(&rk.PublicKey, crypto.SHA256, digest[:], rsig)
		},
		"p256-sign": func() error { _, err := ecdsa.SignASN1(rand.Reader, ek, digest[:]); return err },
		"p256-verify": func() error {
			if !ecdsa.VerifyASN1(&ek.PublicKey, digest[:], esig) {
				return fmt.Errorf("ECDSA signature refused")
			}
			return nil
		},
		// The server's side of an X25519 exchange: a key generation and
		// a shared secret.
		"x25519": func() error {
			k, err := ecdh.X25519().GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			_, err = k.ECDH(peer.PublicKey())
			return err
		},
		"mlkem768-encap": func() error {
			ek, err := mlkem.NewEncapsulationKey768(encKey)
			if err != nil {
				return err
			}
			ek.Encapsulate()
			return nil
		},
	}, nil
}

// threadCPUPerOp runs op on one locked thread for about d and returns its
// thread CPU time per call.
func threadCPUPerOp(ctx context.Context, d time.Duration, op func() error) (time.Duration, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu := func() (time.Duration, error) {
		var ru syscall.Rusage
		if err := syscall.Getrusage(rusageThread, &ru); err != nil {
			return 0, err
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
	}
	start, err := cpu()
	if err != nil {
		return 0, err
	}
	n := 0
	for deadline := time.Now().Add(d); time.Now().Before(deadline) && ctx.Err() == nil; n++ {
		if err := op(); err != nil {
			return 0, err
		}
	}
	end, err := cpu()
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, ctx.Err()
	}
	return (end - start) / time.Duration(n), nil
}

// rusageThread is Linux's RUSAGE_THREAD: the calling thread's usage.
const rusageThread = 1
