# Summarise tools/bench/commits-ab/pair.sh's output: medians, and medians of the rounds' paired ratios.
import sys, json, statistics as st
rounds=[]; cur=None
for l in open(sys.argv[1]):
    if l.startswith('#'): cur={}; rounds.append(cur); continue
    who, style, js = l.split(' ',2); cur[(who,style)]=json.loads(js)
def med(x): return st.median(x)
for style in ['group','groupWrite']:
    for who in ['before','after']:
        rs=[r[(who,style)] for r in rounds]
        print(f"{style:10} {who:6} rate med {med([x['rate'] for x in rs]):8.0f} range {min(x['rate'] for x in rs):.0f}-{max(x['rate'] for x in rs):.0f}  cpu/commit {med([x['cpuUs'] for x in rs]):.1f}us  syncs/commit {med([x['spc'] for x in rs]):.3f}  delays {med([x['delays'] for x in rs if 'delays' in x] or [0])}  vs fs (median of paired ratios) {med([r[(who,style)]['rate']/r[('fs','fs')]['rate'] for r in rounds]):.2f}x")
    print(f"{style:10} after/before median paired {med([r[('after',style)]['rate']/r[('before',style)]['rate'] for r in rounds]):.2f}x")
fs_=[r[('fs','fs')] for r in rounds]
print(f"fs.promises rate med {med([x['rate'] for x in fs_]):.0f} cpu {med([x['cpuUs'] for x in fs_]):.1f}us")
