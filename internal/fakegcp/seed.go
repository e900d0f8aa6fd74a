package fakegcp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// Seed is the initial state of a server: projects with their service
// accounts and policies, and static bearer tokens.
type Seed struct {
	Projects []SeedProject `json:"projects"`
	// Tokens maps static bearer tokens to the member they authenticate
	// ("user:a@example.com", "serviceAccount:x@p.iam.gserviceaccount.com",
	// "serviceAccount:p.svc.id.goog[ns/ksa]", ...). They never expire.
	Tokens map[string]string `json:"tokens"`
	// MetadataServiceAccount is the email the metadata server answers as
	// (SetMetadataServiceAccount); empty: none.
	MetadataServiceAccount string `json:"metadata_service_account"`
}

// SeedProject is a project of a Seed.
type SeedProject struct {
	ProjectID     string `json:"project_id"`
	ProjectNumber string `json:"project_number"` // generated if empty
	// Bindings is the project's own policy, which every service account
	// in the project inherits for permission checks.
	Bindings        []Binding            `json:"bindings"`
	ServiceAccounts []SeedServiceAccount `json:"service_accounts"`
}

// SeedServiceAccount is a service account of a SeedProject; its email is
// ACCOUNT_ID@PROJECT_ID.iam.gserviceaccount.com.
type SeedServiceAccount struct {
	AccountID   string    `json:"account_id"`
	DisplayName string    `json:"display_name"`
	UniqueID    string    `json:"unique_id"` // 21 digits; generated if empty
	Bindings    []Binding `json:"bindings"`  // the account's own IAM policy
}

// Seed adds projects, service accounts, policies and tokens. All accounts
// are created before any policy is set, so bindings may name accounts
// seeded later. Seeded grants take effect at once, whatever the
// propagation delay. A project that exists already gets the new accounts,
// and its bindings replaced when the seed gives any; an account that
// exists already is an error. Policies are validated like setIamPolicy
// (version 3 is assumed, so conditions are allowed).
func (s *Server) Seed(seed Seed) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	type pending struct {
		ps       *policyState
		bindings []Binding
		what     string
	}
	var policies []pending
	for _, sp := range seed.Projects {
		p, err := s.ensureProjectLocked(sp.ProjectID, sp.ProjectNumber)
		if err != nil {
			return fmt.Errorf("fakegcp: seeding project %q: %w", sp.ProjectID, err)
		}
		if len(sp.Bindings) > 0 {
			policies = append(policies, pending{&p.policy, sp.Bindings, "project " + p.id})
		}
		for _, ssa := range sp.ServiceAccounts {
			a, aerr := s.createAccountLocked(p, ssa.AccountID, ssa.DisplayName, "", ssa.UniqueID)
			if aerr != nil {
				return fmt.Errorf("fakegcp: seeding service account %q in %s: %w", ssa.AccountID, p.id, aerr)
			}
			if len(ssa.Bindings) > 0 {
				policies = append(policies, pending{&a.policy, ssa.Bindings, a.email})
			}
		}
	}
	for _, pp := range policies {
		bs, aerr := s.normaliseLocked(pp.bindings, 3)
		if aerr != nil {
			return fmt.Errorf("fakegcp: seeding the policy of %s: %w", pp.what, aerr)
		}
		s.writeLocked(pp.ps, bs, time.Time{})
	}
	for tok, member := range seed.Tokens {
		if tok == "" {
			return fmt.Errorf("fakegcp: seeding tokens: empty token for %s", member)
		}
		m := normaliseCaller(member)
		if m != "allUsers" && m != "allAuthenticatedUsers" {
			if _, aerr := s.validateMemberLocked(m, "a static token"); aerr != nil && !isMissingAccount(aerr) {
				return fmt.Errorf("fakegcp: seeding token for %s: %w", member, aerr)
			}
		}
		s.tokens[tok] = &identity{member: m, scopes: []string{scopeCloudPlatform}}
	}
	return s.seedMetadataLocked(seed.MetadataServiceAccount)
}

// seedMetadataLocked sets the metadata server's account from a seed.
func (s *Server) seedMetadataLocked(email string) error {
	if email == "" {
		return nil
	}
	a, err := s.mustAccountLocked(email)
	if err != nil {
		return fmt.Errorf("fakegcp: seeding the metadata server's account: %w", err)
	}
	s.metadataAccount = a.email
	return nil
}

// isMissingAccount tells the "does not exist" error of member validation
// apart: a static token may name an account that is created later.
func isMissingAccount(e *APIError) bool {
	return strings.HasSuffix(e.Message, "does not exist.")
}

// LoadSeed reads a Seed from a JSON file, rejecting unknown fields.
func LoadSeed(path string) (Seed, error) {
	var seed Seed
	b, err := os.ReadFile(path)
	if err != nil {
		return seed, fmt.Errorf("fakegcp: reading seed: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&seed); err != nil {
		return seed, fmt.Errorf("fakegcp: parsing seed %s: %w", path, err)
	}
	return seed, nil
}
