package acctest

import (
	"testing"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/mwaafake"
)

// MWAA is an in-process MWAA double (package mwaafake) in front of one of
// the test Airflows, with the AWS side of a provider configuration that
// reaches it: moto's region and credentials, moto for STS (so the
// provider can name its identity), and the double as the MWAA endpoint.
type MWAA struct {
	*mwaafake.Server
	Environment string // the environment's name, "tfacc-airflow3" for example
	Region      string
	// AccessKeyID and SecretAccessKey are moto's; DeniedAccessKeyID is a
	// key moto accepts and the double refuses airflow:InvokeRestApi;
	// ViewerAccessKeyID one it maps to the Airflow role Viewer.
	AccessKeyID, SecretAccessKey, DeniedAccessKeyID, ViewerAccessKeyID string
	STSURL                                                             string
}

// MWAAFront starts an MWAA double in front of af for t, stopped when t
// ends, and returns a copy of af whose Front is set: the provider then
// reaches af through the double. The double logs in to af as its
// administrator (see package mwaafake).
func MWAAFront(t testing.TB, af *Airflow) *Airflow {
	t.Helper()
	m := MotoServer(t)
	if m == nil || af == nil {
		return nil
	}
	name := "tfacc-" + af.Name
	s := mwaafake.Start(m.Region, m.AccountID, mwaafake.Environment{
		Name: name, AirflowVersion: af.Version, AirflowURL: af.URL, Username: af.Username, Password: af.Password,
		ViewerUsername: af.ViewerUsername, ViewerPassword: af.ViewerPassword,
	})
	t.Cleanup(s.Close)
	front := &MWAA{
		Server: s, Environment: name, Region: m.Region,
		AccessKeyID: m.AccessKeyID, SecretAccessKey: m.SecretAccessKey, DeniedAccessKeyID: "AKIADENIEDINVOKE0001",
		ViewerAccessKeyID: "AKIAVIEWERINVOKE0001", STSURL: m.URL,
	}
	s.Deny(front.DeniedAccessKeyID)
	s.MapToViewer(front.ViewerAccessKeyID)
	c := *af
	c.Name += "_mwaa"
	c.Front = front
	return &c
}
