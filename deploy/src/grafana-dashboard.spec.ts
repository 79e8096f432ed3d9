import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * deploy/grafana/meterstream-dashboard.json is a Grafana dashboard model one can import: a uid and
 * title, the Prometheus data source as a variable, panels on the 24-column grid without overlaps,
 * and every query naming meterstream's metrics. (That every metric it queries is one the services
 * expose is checked against the running services in e2e/src/observability.spec.ts.)
 */
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: { refId: string; expr: string; datasource?: { uid: string } }[];
}

const dashboard = JSON.parse(fs.readFileSync(path.join(__dirname, '../grafana/meterstream-dashboard.json'), 'utf8')) as {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown }[] };
};

describe('the Grafana dashboard', () => {
  it('is a dashboard model with a uid, a title and the Prometheus data source as a variable', () => {
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dashboard.title).toBe('meterstream pipeline');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.templating.list).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' })]));
  });

  it('lays its panels on the 24-column grid with unique ids and no overlaps', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const { gridPos: g, title } of dashboard.panels) {
      expect({ title, fits: g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0 }).toEqual({ title, fits: true });
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`)).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });

  it('queries the data source variable with PromQL over the services’ metrics in every panel', () => {
    const graphs = dashboard.panels.filter((p) => p.type !== 'row');
    expect(graphs.length).toBeGreaterThanOrEqual(15);
    for (const panel of graphs) {
      expect(panel.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets?.length).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        expect(target.expr).toMatch(/\b(meterstream|process|nodejs)_[a-z0-9_]+/);
        // Balanced brackets: a query Grafana can send as written.
        for (const [open, close] of ['()', '{}', '[]']) expect(target.expr.split(open).length).toBe(target.expr.split(close).length);
      }
    }
  });
});
