/* Starts Swagger UI on /api/v1/docs. A file of its own because the Content-Security-Policy
   runs no inline script; the schema's address comes from the page. No validator badge: it
   would load an image from validator.swagger.io, which the policy (rightly) refuses. */
(function () {
  "use strict";
  var element = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: element.getAttribute("data-openapi-url"),
    domNode: element,
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis]
  });
})();
