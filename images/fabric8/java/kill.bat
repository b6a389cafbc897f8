@echo off
rem Kills the app's process tree at once.
setlocal
cd /d "%~dp0"
if not exist process.pid exit /b 0
set /p PID=<process.pid
taskkill /T /F /PID %PID% >nul 2>nul
del process.pid >nul 2>nul
exit /b 0
