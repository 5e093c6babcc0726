package api

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// OpenAPI is the OpenAPI 3.1 document of every route (receiver kinds, admin API, errors), served at
// GET /openapi.json. The api tests check that every route the router registers is in it, and the
// integration tests validate their real requests and responses against it, so it cannot drift.
//
//go:embed openapi.json
var OpenAPI []byte

func (s *Server) openAPI(c *gin.Context) { c.Data(http.StatusOK, "application/json", OpenAPI) }
