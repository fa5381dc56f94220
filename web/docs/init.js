// Swagger UI on the gateway's own OpenAPI document (generated from its route table).
window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: 'BaseLayout',
  validatorUrl: null,
  tryItOutEnabled: true,
  onComplete: () => { document.body.dataset.ready = 'docs'; },
});
