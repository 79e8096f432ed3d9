import { Controller, Get, Header, Inject } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { ApiConfig } from '@meterstream/config';
import { apiConfig } from '@meterstream/config/nest';
import { Public } from '@meterstream/observability';
import { renderDashboardPage } from './assets/dashboard-page';
import { DASHBOARD_SCRIPT } from './assets/dashboard-script';
import { chartLibrarySource } from './chart-library';
import { CHART_LIBRARY_PATH, DASHBOARD_PAGE_PATHS, DASHBOARD_SCRIPT_PATH } from './dashboard-routes';

/**
 * Only this origin's scripts run and only this origin is fetched: the tables show bytes devices
 * sent, so even a rendering mistake must not let them execute or call elsewhere. Inline styles
 * stay allowed for the page's <style> block and the styles Chart.js sets on its canvas.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "connect-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const JAVASCRIPT = 'text/javascript; charset=utf-8';

/**
 * The operators' dashboard: one page and its two scripts, public even when API_TOKEN is set
 * (they hold no data; the page fetches the JSON endpoints with the token the user enters), and
 * left out of the OpenAPI document, which describes the JSON API only.
 */
@ApiExcludeController()
@Public()
@Controller()
export class DashboardController {
  private readonly html: string;

  constructor(@Inject(apiConfig.KEY) config: Pick<ApiConfig, 'VOLTAGE_LOW' | 'VOLTAGE_HIGH'>) {
    this.html = renderDashboardPage({ voltageLow: config.VOLTAGE_LOW, voltageHigh: config.VOLTAGE_HIGH });
  }

  @Get(DASHBOARD_PAGE_PATHS)
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  @Header('Content-Security-Policy', DASHBOARD_CSP)
  @Header('X-Content-Type-Options', 'nosniff')
  page(): string {
    return this.html;
  }

  @Get(DASHBOARD_SCRIPT_PATH)
  @Header('Content-Type', JAVASCRIPT)
  @Header('Cache-Control', 'no-cache')
  @Header('X-Content-Type-Options', 'nosniff')
  script(): string {
    return DASHBOARD_SCRIPT;
  }

  @Get(CHART_LIBRARY_PATH)
  @Header('Content-Type', JAVASCRIPT)
  // The URL carries no version, so caches revalidate after an hour rather than keeping an old bundle.
  @Header('Cache-Control', 'public, max-age=3600')
  @Header('X-Content-Type-Options', 'nosniff')
  chartLibrary(): string {
    return chartLibrarySource();
  }
}
