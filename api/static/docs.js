/* The API docs page: Swagger UI (from the swagger-ui-py package, served under /static/swagger-ui) on /openapi.json. */
"use strict";

window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
