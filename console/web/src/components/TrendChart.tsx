// The calls trend as an Apache ECharts line chart (only the parts it uses, loaded with the
// reports screen).
import { useEffect, useRef } from "react";
import * as echarts from "echarts/core";
import { LineChart } from "echarts/charts";
import { GridComponent, TooltipComponent, LegendComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([LineChart, GridComponent, TooltipComponent, LegendComponent, CanvasRenderer]);

export interface TrendPoint {
  atMs: number;
  calls: number;
  errors: number;
  throttled: number;
  p95Ms: number | null;
}

export default function TrendChart({ points, labels }: { points: TrendPoint[]; labels: { calls: string; errors: string; p95: string } }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!host.current) return;
    const chart = echarts.init(host.current, undefined, { renderer: "canvas" });
    const time = points.map((p) => new Date(p.atMs).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    chart.setOption({
      tooltip: { trigger: "axis" },
      // ECharts 6 puts the legend at the bottom by default, over the time axis.
      legend: { data: [labels.calls, labels.errors, labels.p95], top: 0 },
      grid: { left: 48, right: 48, top: 40, bottom: 32 },
      xAxis: { type: "category", data: time },
      yAxis: [{ type: "value", minInterval: 1 }, { type: "value", name: "ms" }],
      series: [
        { name: labels.calls, type: "line", data: points.map((p) => p.calls), smooth: true },
        { name: labels.errors, type: "line", data: points.map((p) => p.errors), smooth: true },
        { name: labels.p95, type: "line", yAxisIndex: 1, data: points.map((p) => p.p95Ms), smooth: true },
      ],
    });
    const resize = () => chart.resize();
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      chart.dispose();
    };
  }, [points, labels]);
  return <div ref={host} className="sluice-chart" role="img" aria-label={labels.calls} />;
}
