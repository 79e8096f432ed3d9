/** Where the dashboard and its two scripts are served; the page refers to the scripts by these paths. */
export const DASHBOARD_PAGE_PATHS = ['/', '/dashboard'];
export const DASHBOARD_SCRIPT_PATH = '/dashboard/app.js';
export const CHART_LIBRARY_PATH = '/dashboard/chart.umd.min.js';
