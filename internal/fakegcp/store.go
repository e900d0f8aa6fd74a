package fakegcp

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// ServiceAccount is a service account as the IAM API returns it.
type ServiceAccount struct {
	Name           string `json:"name,omitempty"`
	ProjectID      string `json:"projectId,omitempty"`
	UniqueID       string `json:"uniqueId,omitempty"`
	Email          string `json:"email,omitempty"`
	DisplayName    string `json:"displayName,omitempty"`
	Description    string `json:"description,omitempty"`
	Etag           string `json:"etag,omitempty"`
	OAuth2ClientID string `json:"oauth2ClientId,omitempty"`
	Disabled       bool   `json:"disabled,omitempty"`
}

// serviceAccountEtag is the constant, deprecated etag Google returns on
// every service account.
const serviceAccountEtag = "MDEwMjE5MjA="

// emailDomain is the domain of user-managed service accounts.
const emailDomain = ".iam.gserviceaccount.com"

type project struct {
	id, number string
	policy     policyState // project-level bindings
	secrets    map[string]*secretState
}

type account struct {
	project     *project
	accountID   string
	email       string
	uid         string
	displayName string
	description string
	disabled    bool
	policy      policyState
	systemKey   *signingKey   // signs signJwt and signBlob; made on first use
	userKeys    []*signingKey // from CreateServiceAccountKey
}

func (a *account) view() ServiceAccount {
	return ServiceAccount{
		Name:           "projects/" + a.project.id + "/serviceAccounts/" + a.email,
		ProjectID:      a.project.id,
		UniqueID:       a.uid,
		Email:          a.email,
		DisplayName:    a.displayName,
		Description:    a.description,
		Etag:           serviceAccountEtag,
		OAuth2ClientID: a.uid,
		Disabled:       a.disabled,
	}
}

func (a *account) member() string { return "serviceAccount:" + a.email }

var (
	accountIDPattern = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])$`)
	projectIDPattern = regexp.MustCompile(`^[a-z][-a-z0-9]{4,28}[a-z0-9]$`)
	digits           = regexp.MustCompile(`^[0-9]+$`)
)

func validateAccountID(id string) *APIError {
	if n := len(id); n < 6 || n > 30 {
		return errInvalid("Invalid value for field 'accountId': '%s'. Account ID must be between 6 and 30 characters.", id)
	}
	if !accountIDPattern.MatchString(id) {
		return errInvalid("Invalid value for field 'accountId': '%s'. Account ID must start with a lower case letter, followed by one or more lower case alphanumerical characters that can be separated by hyphens.", id)
	}
	return nil
}

func validateDisplay(displayName, description string) *APIError {
	if len(displayName) > 100 || !utf8.ValidString(displayName) {
		return errInvalid("Invalid value for field 'serviceAccount.displayName': display name must be at most 100 UTF-8 bytes.")
	}
	if len(description) > 256 || !utf8.ValidString(description) {
		return errInvalid("Invalid value for field 'serviceAccount.description': description must be at most 256 UTF-8 bytes.")
	}
	return nil
}

// projectLocked finds a project by ID or number.
func (s *Server) projectLocked(idOrNumber string) *project {
	if p := s.projects[idOrNumber]; p != nil {
		return p
	}
	for _, p := range s.projects {
		if p.number == idOrNumber {
			return p
		}
	}
	return nil
}

// ensureProjectLocked returns the project, creating it when missing.
func (s *Server) ensureProjectLocked(id, number string) (*project, error) {
	if !projectIDPattern.MatchString(id) {
		return nil, errInvalid("Invalid project ID %q: it must be 6 to 30 lower-case letters, digits or hyphens, start with a letter and not end with a hyphen.", id)
	}
	if number != "" && !digits.MatchString(number) {
		return nil, errInvalid("Invalid project number %q: it must be numeric.", number)
	}
	if p := s.projects[id]; p != nil {
		if number != "" && number != p.number {
			return nil, errInvalid("Project %s already exists with number %s, not %s.", id, p.number, number)
		}
		return p, nil
	}
	if number == "" {
		for number == "" || s.projectLocked(number) != nil {
			number = randomDigits(1, 12)
		}
	} else if other := s.projectLocked(number); other != nil {
		return nil, errInvalid("Project number %s is already used by project %s.", number, other.id)
	}
	p := &project{id: id, number: number}
	s.projects[id] = p
	return p, nil
}

// lookupLocked resolves an email or a numeric unique ID.
func (s *Server) lookupLocked(emailOrUID string) *account {
	if strings.Contains(emailOrUID, "@") {
		return s.accounts[strings.ToLower(emailOrUID)]
	}
	return s.byUID[emailOrUID]
}

// resolveLocked resolves the {projectsId} and {serviceAccountsId} parts of
// a resource name. It answers nil for an unknown account and for one that
// lives in another project than the one named.
func (s *Server) resolveLocked(projectSeg, accountSeg string) (*account, *APIError) {
	if !strings.Contains(accountSeg, "@") && !digits.MatchString(accountSeg) {
		return nil, errInvalid("Invalid form of account ID %s. Should be [Gaia ID |Email |Unique ID |] of the account", accountSeg)
	}
	a := s.lookupLocked(accountSeg)
	if a == nil {
		return nil, nil
	}
	if projectSeg != "-" && projectSeg != a.project.id && projectSeg != a.project.number {
		return nil, nil
	}
	return a, nil
}

func (s *Server) mustAccountLocked(emailOrUID string) (*account, error) {
	a := s.lookupLocked(emailOrUID)
	if a == nil {
		return nil, errNotFound("Service account %s does not exist.", emailOrUID)
	}
	return a, nil
}

// createAccountLocked adds a service account; uid may be empty.
func (s *Server) createAccountLocked(p *project, accountID, displayName, description, uid string) (*account, *APIError) {
	if e := validateAccountID(accountID); e != nil {
		return nil, e
	}
	if e := validateDisplay(displayName, description); e != nil {
		return nil, e
	}
	email := accountID + "@" + p.id + emailDomain
	if s.accounts[email] != nil {
		return nil, errAlreadyExists("Service account %s already exists within project projects/%s.", accountID, p.id)
	}
	switch {
	case uid == "":
		uid = s.newUIDLocked()
	case !digits.MatchString(uid) || len(uid) != 21:
		return nil, errInvalid("Invalid unique ID %q for %s: it must be 21 digits.", uid, email)
	case s.usedUIDs[uid]:
		return nil, errAlreadyExists("Unique ID %s is already in use.", uid)
	}
	a := &account{project: p, accountID: accountID, email: email, uid: uid, displayName: displayName, description: description}
	s.accounts[email] = a
	s.byUID[uid] = a
	s.usedUIDs[uid] = true
	return a, nil
}

// deleteAccountLocked removes an account, its keys and its policy, and
// rewrites every binding that named it as Google does:
// serviceAccount:EMAIL becomes deleted:serviceAccount:EMAIL?uid=UNIQUE_ID.
func (s *Server) deleteAccountLocked(a *account) {
	delete(s.accounts, a.email)
	delete(s.byUID, a.uid)
	for _, k := range a.userKeys {
		delete(s.keysByID, k.kid)
	}
	if a.systemKey != nil {
		delete(s.keysByID, a.systemKey.kid)
	}
	from := a.member()
	to := "deleted:" + from + "?uid=" + a.uid
	for _, other := range s.accounts {
		s.renameMemberLocked(&other.policy, from, to)
	}
	for _, p := range s.projects {
		s.renameMemberLocked(&p.policy, from, to)
	}
}

// newUIDLocked makes a 21-digit unique ID starting with 1, like Google's,
// never used before.
func (s *Server) newUIDLocked() string {
	for {
		uid := "1" + randomDigits(0, 20)
		if !s.usedUIDs[uid] {
			return uid
		}
	}
}

// nextEtagLocked makes a fresh policy etag, 8 bytes in base64 like
// "BwXhqDUvsV0=".
func (s *Server) nextEtagLocked() string {
	s.etagCounter++
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], s.etagBase+s.etagCounter)
	return base64.StdEncoding.EncodeToString(b[:])
}

// randomDigits returns n random decimal digits, the first one at least min.
func randomDigits(minFirst, n int) string {
	var b strings.Builder
	for i := range n {
		lo := 0
		if i == 0 {
			lo = minFirst
		}
		d, err := rand.Int(rand.Reader, big.NewInt(int64(10-lo)))
		if err != nil {
			panic(fmt.Sprintf("fakegcp: crypto/rand: %v", err))
		}
		b.WriteByte(byte('0' + lo + int(d.Int64())))
	}
	return b.String()
}

// randomHex returns 2n random hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("fakegcp: crypto/rand: %v", err))
	}
	return fmt.Sprintf("%x", b)
}

// parseAccountName splits "projects/P/serviceAccounts/SA".
func parseAccountName(name string) (projectSeg, accountSeg string, ok bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != "serviceAccounts" || parts[1] == "" || parts[3] == "" {
		return "", "", false
	}
	return parts[1], parts[3], true
}

// Out-of-band helpers: no authentication and no etag check, but the same
// bookkeeping as an API write.

// CreateServiceAccount creates accountID in project, creating the project
// too when it does not exist.
func (s *Server) CreateServiceAccount(project, accountID string) (ServiceAccount, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.ensureProjectLocked(project, "")
	if err != nil {
		return ServiceAccount{}, err
	}
	a, aerr := s.createAccountLocked(p, accountID, "", "", "")
	if aerr != nil {
		return ServiceAccount{}, aerr
	}
	return a.view(), nil
}

// DeleteServiceAccount deletes an account like the API does, rewriting the
// bindings that named it to deleted:serviceAccount:EMAIL?uid=UNIQUE_ID.
func (s *Server) DeleteServiceAccount(emailOrUniqueID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.mustAccountLocked(emailOrUniqueID)
	if err != nil {
		return err
	}
	s.deleteAccountLocked(a)
	return nil
}

// ServiceAccount returns an account by email or unique ID.
func (s *Server) ServiceAccount(emailOrUniqueID string) (ServiceAccount, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.lookupLocked(emailOrUniqueID)
	if a == nil {
		return ServiceAccount{}, false
	}
	return a.view(), true
}

// SetServiceAccountDisabled disables or enables an account, like the
// disable and enable methods.
func (s *Server) SetServiceAccountDisabled(emailOrUniqueID string, disabled bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.mustAccountLocked(emailOrUniqueID)
	if err != nil {
		return err
	}
	a.disabled = disabled
	return nil
}

// ServiceAccounts lists every account, sorted by email.
func (s *Server) ServiceAccounts() []ServiceAccount {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ServiceAccount, 0, len(s.accounts))
	for _, a := range s.sortedAccountsLocked("") {
		out = append(out, a.view())
	}
	return out
}

// ProjectNumber returns the number of a project.
func (s *Server) ProjectNumber(projectID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[projectID]
	if p == nil {
		return "", false
	}
	return p.number, true
}

// sortedAccountsLocked lists the accounts of a project ("" for all) by email.
func (s *Server) sortedAccountsLocked(projectID string) []*account {
	var out []*account
	for _, a := range s.accounts {
		if projectID == "" || a.project.id == projectID {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(x, y *account) int { return strings.Compare(x.email, y.email) })
	return out
}
