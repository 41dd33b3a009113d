// Command etcd is etcd's own main (etcdmain.Main), built from the Go module
// proxy by e2e/services for the kube service. etcd's root module carries
// replace directives, so `go install go.etcd.io/etcd/v3@...` does not work;
// this module requires the server module and calls the same entry point.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
