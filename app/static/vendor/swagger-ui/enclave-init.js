// Enclave's own start-up script for the vendored Swagger UI (app/openapi.py SwaggerPage).
// A file, not an inline script, so the page keeps the site's CSP. validatorUrl: null stops
// Swagger UI's default badge, which would load an image from validator.swagger.io.
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.url,
    domNode: root,
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
