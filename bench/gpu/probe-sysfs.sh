#!/usr/bin/env bash
# What a machine exposes for whole-system energy (issue 9): powercap (RAPL) zones and hwmon sensors,
# whether each counter is readable, and the module power fields of nvidia-smi. Read-only; prints text.
echo "## uname"; uname -a
echo "## whoami"; id
echo "## /sys/class/powercap"
for z in /sys/class/powercap/*; do
  [ -e "$z" ] || { echo "(none)"; break; }
  printf '%s name=%s energy_uj=%s max_energy_range_uj=%s\n' "$z" "$(cat "$z/name" 2>&1)" "$(cat "$z/energy_uj" 2>&1)" "$(cat "$z/max_energy_range_uj" 2>&1)"
done
echo "## /sys/class/hwmon"
for h in /sys/class/hwmon/*; do
  [ -e "$h" ] || { echo "(none)"; break; }
  echo "$h name=$(cat "$h/name" 2>&1)"
  for f in "$h"/power*_input "$h"/energy*_input "$h"/power*_label "$h"/energy*_label; do
    [ -e "$f" ] && echo "  $(basename "$f")=$(cat "$f" 2>&1)"
  done
done
echo "## nvidia-smi module power"
nvidia-smi --query-gpu=name,power.draw,module.power.draw.average,module.power.draw.instant --format=csv 2>&1
echo "## cpu"; grep -m1 "model name" /proc/cpuinfo; nproc
