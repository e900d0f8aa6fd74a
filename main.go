// Command terraform-provider-airflowiam serves the airflowiam Terraform provider.
package main

import (
	"flag"
	"log"
	"os"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/provider"
)

// version is set by goreleaser at build time.
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()

	if err := provider.QuietLogsUnlessWanted(os.Getenv, os.Setenv); err != nil {
		log.Fatal(err.Error())
	}
	stopProfile := startProfile()
	// As providerserver.Serve does, with the framework's server wrapped
	// (provider.NewServer says why).
	var opts []tf6server.ServeOpt
	if debug {
		opts = append(opts, tf6server.WithManagedDebug())
	}
	err := tf6server.Serve(provider.RegistryAddress, provider.NewServer(version), opts...)
	stopProfile()
	if err != nil {
		log.Fatal(err.Error())
	}
}
