import csv,sys
# columns: each grid csv; rows: cells; bold when the cell meets the bar
names=sys.argv[1::2]; paths=sys.argv[2::2]
grids=[]
for path in paths:
    rows=list(csv.DictReader(open(path))); cells={}
    for r in rows: cells.setdefault((r['traces'],r['video']),{})[r['algorithm']]=r
    grids.append(cells)
keys=list(grids[0].keys())
print("| networks | video | "+" | ".join(names)+" | best rule mean | RobustMPC p10 |")
print("|---|---|"+"---|"*len(names)+"---|---|")
met=[0]*len(names)
for k in keys:
    a0=grids[0][k]
    best=max(((float(a0[r]["qoe_mean"]),r) for r in ["bba0","bola-e","dynamic","robustmpc"]),key=lambda t:t[0])
    rp10=float(a0['robustmpc']['qoe_p10'])
    cols=[]
    for i,g in enumerate(grids):
        a=g[k]; pol=[x for x in a if x.startswith('learned')][0]
        m=float(a[pol]['qoe_mean']); p=float(a[pol]['qoe_p10'])
        ok=m>=best[0] and p>=rp10; met[i]+=ok
        c=f"{m:.2f} (p10 {p:.2f})"
        cols.append(f"**{c}**" if ok else c)
    print(f"| {k[0]} | {k[1]} | "+" | ".join(cols)+f" | {best[0]:.2f} {best[1]} | {rp10:.2f} |")
print("| cells meeting the bar | | "+" | ".join(f"**{m} of 16**" for m in met)+" | | |")
