package gcpiam

import (
	"context"
	"strings"
	"sync"

	iam "google.golang.org/api/iam/v1"
)

// ServiceAccount is what the provider needs to know of one account.
type ServiceAccount struct {
	Email     string
	UniqueID  string // numeric; the azp and sub of its ID tokens
	ProjectID string
	Name      string // projects/PROJECT/serviceAccounts/EMAIL
	Disabled  bool
}

// resourceName is the IAM v1 name of an account given by email or unique ID.
func resourceName(ref string) string {
	return "projects/-/serviceAccounts/" + ref
}

// ServiceAccount reads an account by email or numeric unique ID. A missing
// account is an error for which IsNotFound is true.
func (c *Client) ServiceAccount(ctx context.Context, ref string) (*ServiceAccount, error) {
	sa, err := c.iam.Projects.ServiceAccounts.Get(resourceName(ref)).Context(ctx).Do()
	if err != nil {
		return nil, err
	}
	acct := fromAPI(sa)
	c.remember(acct)
	return acct, nil
}

func fromAPI(sa *iam.ServiceAccount) *ServiceAccount {
	return &ServiceAccount{
		Email:     sa.Email,
		UniqueID:  sa.UniqueId,
		ProjectID: sa.ProjectId,
		Name:      sa.Name,
		Disabled:  sa.Disabled,
	}
}

func (c *Client) remember(sa *ServiceAccount) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.accounts[strings.ToLower(sa.Email)] = sa
	c.accounts[sa.UniqueID] = sa
}

// lockKey is the account's canonical identity: its lower-cased email. An
// email costs nothing to canonicalise; a unique ID is looked up once per
// process.
func (c *Client) lockKey(ctx context.Context, ref string) (string, error) {
	if strings.Contains(ref, "@") {
		return strings.ToLower(ref), nil
	}
	c.mu.Lock()
	sa, ok := c.accounts[ref]
	c.mu.Unlock()
	if !ok {
		var err error
		if sa, err = c.ServiceAccount(ctx, ref); err != nil {
			return "", err
		}
	}
	return strings.ToLower(sa.Email), nil
}

// lock takes the in-process lock of one account's policy and returns its
// unlock.
func (c *Client) lock(key string) func() {
	c.mu.Lock()
	mu, ok := c.locks[key]
	if !ok {
		mu = &sync.Mutex{}
		c.locks[key] = mu
	}
	c.mu.Unlock()
	mu.Lock()
	return mu.Unlock
}
