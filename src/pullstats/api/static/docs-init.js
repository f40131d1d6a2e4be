// Starts Swagger UI on /docs. A file, not an inline script, so the page runs under a
// Content-Security-Policy of script-src 'self'; validatorUrl null keeps Swagger UI from
// sending the spec to its public validator: no request leaves the server's origin.
"use strict";
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
