package fakegcp

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// Wire types of the IAM API v1 methods, named after the discovery schemas.
// Any field added here must exist in the discovery document; the contract
// test checks it.

type empty struct{}

type createServiceAccountRequest struct {
	AccountID      string          `json:"accountId"`
	ServiceAccount *ServiceAccount `json:"serviceAccount,omitempty"`
}

type patchServiceAccountRequest struct {
	ServiceAccount *ServiceAccount `json:"serviceAccount,omitempty"`
	UpdateMask     string          `json:"updateMask,omitempty"`
}

type listServiceAccountsResponse struct {
	Accounts      []ServiceAccount `json:"accounts,omitempty"`
	NextPageToken string           `json:"nextPageToken,omitempty"`
}

type getIamPolicyRequest struct {
	Options *getPolicyOptions `json:"options,omitempty"`
}

type getPolicyOptions struct {
	RequestedPolicyVersion int `json:"requestedPolicyVersion,omitempty"`
}

type setIamPolicyRequest struct {
	Policy     *wirePolicy `json:"policy,omitempty"`
	UpdateMask string      `json:"updateMask,omitempty"`
}

// wirePolicy is a policy as clients send it. auditConfigs and a
// condition's location are accepted and dropped.
type wirePolicy struct {
	Version      int               `json:"version,omitempty"`
	Etag         string            `json:"etag,omitempty"`
	Bindings     []wireBinding     `json:"bindings,omitempty"`
	AuditConfigs []json.RawMessage `json:"auditConfigs,omitempty"`
}

type wireBinding struct {
	Role      string    `json:"role,omitempty"`
	Members   []string  `json:"members,omitempty"`
	Condition *wireExpr `json:"condition,omitempty"`
}

type wireExpr struct {
	Expression  string `json:"expression,omitempty"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Location    string `json:"location,omitempty"`
}

type testIamPermissionsRequest struct {
	Permissions []string `json:"permissions,omitempty"`
}

type testIamPermissionsResponse struct {
	Permissions []string `json:"permissions,omitempty"`
}

const (
	defaultPageSize = 20
	maxPageSize     = 100
)

// accountLocked resolves the service account of an IAM API call and
// checks that the caller holds perm on it.
func (s *Server) accountLocked(c *call, perm string) (*account, *APIError) {
	a, e := s.resolveLocked(c.params[0], c.params[1])
	if e != nil {
		return nil, e
	}
	if a == nil {
		return nil, errNotFound("Unknown service account")
	}
	if !s.holdsLocked(c.caller.member, a, perm) {
		return nil, adminDenied(perm, "service account "+c.resource())
	}
	return a, nil
}

// projectForCallLocked resolves the project of a collection call and
// checks a project-level permission.
func (s *Server) projectForCallLocked(c *call, perm string) (*project, *APIError) {
	seg := c.params[0]
	if seg == "-" {
		return nil, errInvalid("A project ID is required in projects/{PROJECT_ID}; the - wildcard is not supported for this method.")
	}
	p := s.projectLocked(seg)
	if p == nil {
		return nil, errNotFound("Project %s not found.", seg)
	}
	if !s.holdsOnProjectLocked(c.caller.member, p, perm) {
		return nil, adminDenied(perm, "project projects/"+seg)
	}
	return p, nil
}

func (s *Server) listServiceAccounts(c *call) (any, *APIError) {
	q := c.r.URL.Query()
	size := defaultPageSize
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, errInvalid("Invalid value for pageSize: %q.", v)
		}
		if n > 0 {
			size = min(n, maxPageSize)
		}
	}
	after := ""
	if tok := q.Get("pageToken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || !strings.HasPrefix(string(b), "after:") {
			return nil, errInvalid("Invalid page token %q.", tok)
		}
		after = strings.TrimPrefix(string(b), "after:")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, e := s.projectForCallLocked(c, permList)
	if e != nil {
		return nil, e
	}
	var resp listServiceAccountsResponse
	all := s.sortedAccountsLocked(p.id)
	start := 0
	for start < len(all) && after != "" && all[start].email <= after {
		start++
	}
	end := min(start+size, len(all))
	for _, a := range all[start:end] {
		resp.Accounts = append(resp.Accounts, a.view())
	}
	if end < len(all) {
		resp.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte("after:" + all[end-1].email))
	}
	return resp, nil
}

func (s *Server) createServiceAccount(c *call) (any, *APIError) {
	var req createServiceAccountRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, e := s.projectForCallLocked(c, permCreate)
	if e != nil {
		return nil, e
	}
	var sa ServiceAccount
	if req.ServiceAccount != nil {
		sa = *req.ServiceAccount
	}
	a, e := s.createAccountLocked(p, req.AccountID, sa.DisplayName, sa.Description, "")
	if e != nil {
		return nil, e
	}
	return a.view(), nil
}

func (s *Server) getServiceAccount(c *call) (any, *APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, e := s.accountLocked(c, permGet)
	if e != nil {
		return nil, e
	}
	return a.view(), nil
}

func (s *Server) patchServiceAccount(c *call) (any, *APIError) {
	var req patchServiceAccountRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if req.ServiceAccount == nil {
		return nil, errInvalid("Field serviceAccount is required.")
	}
	if req.UpdateMask == "" {
		return nil, errInvalid("Field updateMask is required.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, e := s.accountLocked(c, permUpdate)
	if e != nil {
		return nil, e
	}
	displayName, description := a.displayName, a.description
	for _, path := range strings.Split(req.UpdateMask, ",") {
		switch strings.TrimSpace(path) {
		case "displayName", "display_name":
			displayName = req.ServiceAccount.DisplayName
		case "description":
			description = req.ServiceAccount.Description
		default:
			return nil, errInvalid("Invalid updateMask path %q: only displayName and description can be updated.", path)
		}
	}
	if e := validateDisplay(displayName, description); e != nil {
		return nil, e
	}
	a.displayName, a.description = displayName, description
	return a.view(), nil
}

func (s *Server) deleteServiceAccount(c *call) (any, *APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, e := s.accountLocked(c, permDelete)
	if e != nil {
		return nil, e
	}
	s.deleteAccountLocked(a)
	return empty{}, nil
}

func (s *Server) disableServiceAccount(c *call) (any, *APIError) {
	return s.setDisabled(c, permDisable, true)
}

func (s *Server) enableServiceAccount(c *call) (any, *APIError) {
	return s.setDisabled(c, permEnable, false)
}

func (s *Server) setDisabled(c *call, perm string, disabled bool) (any, *APIError) {
	var req empty
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, e := s.accountLocked(c, perm)
	if e != nil {
		return nil, e
	}
	a.disabled = disabled
	return empty{}, nil
}

func validPolicyVersion(v int) bool { return v == 0 || v == 1 || v == 3 }

// getIamPolicy takes the requested version from the query parameter
// options.requestedPolicyVersion (what the Go client sends) or from a JSON
// body {"options":{"requestedPolicyVersion":N}}.
func (s *Server) getIamPolicy(c *call) (any, *APIError) {
	version, e := requestedVersion(c)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, e := s.accountLocked(c, permGetIamPolicy)
	if e != nil {
		return nil, e
	}
	return a.policy.render(version), nil
}

// requestedVersion is the policy version a getIamPolicy call asks for, from
// the query or the body.
func requestedVersion(c *call) (int, *APIError) {
	version := 0
	if v := c.r.URL.Query().Get("options.requestedPolicyVersion"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, errInvalid("Invalid value for options.requestedPolicyVersion: %q.", v)
		}
		version = n
	}
	var req getIamPolicyRequest
	if e := c.decode(&req); e != nil {
		return 0, e
	}
	if req.Options != nil && req.Options.RequestedPolicyVersion != 0 {
		version = req.Options.RequestedPolicyVersion
	}
	if !validPolicyVersion(version) {
		return 0, errInvalid("Invalid requested policy version %d; valid versions are 0, 1 and 3.", version)
	}
	return version, nil
}

func (s *Server) setIamPolicy(c *call) (any, *APIError) {
	req, e := decodeSetIamPolicy(c)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, e := s.accountLocked(c, permSetIamPolicy)
	if e != nil {
		return nil, e
	}
	if e := s.applySetIamPolicyLocked(&a.policy, req); e != nil {
		return nil, e
	}
	return a.policy.render(3), nil
}

// setIamPolicyCall is a decoded setIamPolicy request.
type setIamPolicyCall struct {
	bindings    []Binding
	version     int
	etag        string
	setBindings bool
}

func decodeSetIamPolicy(c *call) (*setIamPolicyCall, *APIError) {
	var req setIamPolicyRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if req.Policy == nil {
		return nil, errInvalid("Field policy is required.")
	}
	setBindings, e := updatesBindings(req.UpdateMask)
	if e != nil {
		return nil, e
	}
	etag := req.Policy.Etag
	if etag != "" && !validBase64(etag) {
		return nil, errInvalid("Invalid value at 'policy.etag' (TYPE_BYTES), Base64 decoding failed for %q", etag)
	}
	out := &setIamPolicyCall{bindings: make([]Binding, len(req.Policy.Bindings)), version: req.Policy.Version, etag: etag, setBindings: setBindings}
	for i, b := range req.Policy.Bindings {
		out.bindings[i] = Binding{Role: b.Role, Members: b.Members}
		if b.Condition != nil {
			out.bindings[i].Condition = &Expr{Expression: b.Condition.Expression, Title: b.Condition.Title, Description: b.Condition.Description}
		}
	}
	return out, nil
}

// applySetIamPolicyLocked validates and writes a setIamPolicy request into
// ps: a stale etag (or an injected conflict) is 409 ABORTED.
func (s *Server) applySetIamPolicyLocked(ps *policyState, req *setIamPolicyCall) *APIError {
	normalised := ps.bindings
	if req.setBindings {
		var e *APIError
		if normalised, e = s.normaliseLocked(req.bindings, req.version); e != nil {
			return e
		}
	}
	if req.etag != "" && req.etag != ps.currentEtag() {
		return errConcurrentChange()
	}
	if s.conflicts > 0 {
		s.conflicts--
		return errConcurrentChange()
	}
	s.writeLocked(ps, normalised, s.now())
	return nil
}

// updatesBindings reads setIamPolicy's updateMask: whether the bindings are
// written (they are when there is no mask).
func updatesBindings(mask string) (bool, *APIError) {
	if mask == "" {
		return true, nil
	}
	set := false
	for _, path := range strings.Split(mask, ",") {
		switch strings.TrimSpace(path) {
		case "bindings":
			set = true
		case "etag", "version", "auditConfigs", "audit_configs":
		default:
			return false, errInvalid("Invalid updateMask path %q: allowed paths are bindings, etag, version and auditConfigs.", path)
		}
	}
	return set, nil
}

func validBase64(s string) bool {
	if _, err := base64.StdEncoding.DecodeString(s); err == nil {
		return true
	}
	_, err := base64.URLEncoding.DecodeString(s)
	return err == nil
}

// testIamPermissions answers for the caller; like Google it needs no
// permission itself.
func (s *Server) testIamPermissions(c *call) (any, *APIError) {
	var req testIamPermissionsRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	for _, p := range req.Permissions {
		if !validPermission(p) {
			return nil, errInvalid("Permission %s is not valid for this resource.", p)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, e := s.resolveLocked(c.params[0], c.params[1])
	if e != nil {
		return nil, e
	}
	if a == nil {
		return nil, errNotFound("Unknown service account")
	}
	var resp testIamPermissionsResponse
	for _, p := range req.Permissions {
		if s.holdsLocked(c.caller.member, a, p) && !slices.Contains(resp.Permissions, p) {
			resp.Permissions = append(resp.Permissions, p)
		}
	}
	return resp, nil
}
