package amapi

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
)

// Fake is an in-memory Provider for tests: it records what was patched,
// created, issued and deleted, and serves devices the test put in with
// SetDevice. It is safe for concurrent use.
type Fake struct {
	mu       sync.Mutex
	policies map[string]Policy
	tokens   map[string]EnrollmentTokenRequest // by token value
	devices  map[string]json.RawMessage
	deleted  []string
	commands map[string][]Command
}

// NewFake returns an empty fake.
func NewFake() *Fake {
	return &Fake{
		policies: map[string]Policy{},
		tokens:   map[string]EnrollmentTokenRequest{},
		devices:  map[string]json.RawMessage{},
		commands: map[string][]Command{},
	}
}

// PatchPolicy implements Provider.
func (f *Fake) PatchPolicy(_ context.Context, enterprise, id string, p Policy) (string, error) {
	name := enterprise + "/policies/" + id
	f.mu.Lock()
	defer f.mu.Unlock()
	f.policies[name] = p
	return name, nil
}

// CreateEnrollmentToken implements Provider.
func (f *Fake) CreateEnrollmentToken(_ context.Context, enterprise string, r EnrollmentTokenRequest) (EnrollmentToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.policies[r.PolicyName]; !ok {
		return EnrollmentToken{}, fmt.Errorf("policy %s: %w", r.PolicyName, ErrNotFound)
	}
	v := rand.Text()
	f.tokens[v] = r
	return EnrollmentToken{Name: enterprise + "/enrollmentTokens/" + v[:8], Value: v}, nil
}

// Device implements Provider.
func (f *Fake) Device(_ context.Context, name string) (json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.devices[name]
	if !ok {
		return nil, fmt.Errorf("device %s: %w", name, ErrNotFound)
	}
	return slices.Clone(d), nil
}

// DeleteDevice implements Provider.
func (f *Fake) DeleteDevice(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.devices[name]; !ok {
		return fmt.Errorf("device %s: %w", name, ErrNotFound)
	}
	delete(f.devices, name)
	f.deleted = append(f.deleted, name)
	return nil
}

// IssueCommand implements Provider; the fake's operations finish at once.
func (f *Fake) IssueCommand(_ context.Context, name string, c Command) (Operation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.devices[name]; !ok {
		return Operation{}, fmt.Errorf("device %s: %w", name, ErrNotFound)
	}
	f.commands[name] = append(f.commands[name], c)
	return Operation{Name: fmt.Sprintf("%s/operations/%d", name, len(f.commands[name])), Done: true}, nil
}

// SetDevice makes a device resource available, as if a device had enrolled.
func (f *Fake) SetDevice(name string, resource json.RawMessage) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.devices[name] = slices.Clone(resource)
}

// Policy returns a patched policy by resource name.
func (f *Fake) Policy(name string) (Policy, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.policies[name]
	return p, ok
}

// Token returns the request a token value was created from.
func (f *Fake) Token(value string) (EnrollmentTokenRequest, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.tokens[value]
	return r, ok
}

// Deleted returns the names of the deleted devices, in order.
func (f *Fake) Deleted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.deleted)
}

// Commands returns the commands issued to a device, in order.
func (f *Fake) Commands(name string) []Command {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.commands[name])
}
